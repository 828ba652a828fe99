#include "crossrec/nmf.hpp"

#include <algorithm>
#include <vector>

#include "crossrec/dense.hpp"  // CROSSREC_TARGET_CLONES
#include "crossrec/parallel.hpp"

namespace crossrec {

namespace {

// Sums are float32 like the factors (8-wide SIMD, half the memory traffic of double); a row's sum
// runs over its ratings in a fixed order, so the bits do not depend on the thread count.

// One factor row's multiplicative update: x_f <- x_f num_f / (den_f + reg n x_f), kept when x_f is
// 0 (it stays 0) or the denominator is 0 (no rating: nothing to learn from).
CROSSREC_TARGET_CLONES
void multiplicative_row(const float* x, const float* num, const float* den, float reg_n, int64_t f, float* out) {
#pragma omp simd
  for (int64_t c = 0; c < f; ++c) {
    const float d = den[c] + reg_n * x[c];
    const bool keep = x[c] == 0.0f || d == 0.0f;
    out[c] = keep ? x[c] : x[c] * num[c] / (keep ? 1.0f : d);
  }
}

// One user's ratings: est of each (with the biases as they stand, updated by SGD as the row goes
// when biased), the sums sum_i q_if r_ui and sum_i q_if est_ui; returns the squared error. With
// item_num/item_den (unbiased, one thread) the item sums are scattered in the same pass: users in
// index order add to each item's sums in increasing user order, exactly the order of item_row
// over the item-major copy, so the bits are the same either way.
CROSSREC_TARGET_CLONES
double user_row(const CsrView& R, int64_t u, const float* P, const float* Q, int64_t f, float global_mean,
                float* user_bias, float* item_bias, const NmfParams& prm, float* est, float* num, float* den,
                float* item_num, float* item_den) {
  std::fill(num, num + f, 0.0f);
  std::fill(den, den + f, 0.0f);
  const float* pu = P + u * f;
  const bool biased = user_bias != nullptr;
  double bu = biased ? user_bias[u] : 0.0;
  double sse = 0.0;
  for (int64_t p = R.begin(u); p < R.end(u); ++p) {
    const int64_t i = R.indices[p];
    const float* q = Q + i * f;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t c = 0; c < f; ++c) dot += q[c] * pu[c];
    const float r = R.data[p];
    float e = global_mean + dot;
    if (biased) {
      const double bi = item_bias[i];
      e = static_cast<float>(e + bu + bi);
      const double err = r - e;
      bu += prm.lr_bu * (err - prm.reg_bu * bu);
      item_bias[i] = static_cast<float>(bi + prm.lr_bi * (err - prm.reg_bi * bi));
    }
    est[p] = e;
    sse += double(r - e) * (r - e);
#pragma omp simd
    for (int64_t c = 0; c < f; ++c) {
      num[c] += q[c] * r;
      den[c] += q[c] * e;
    }
    if (item_num) {
      float* in = item_num + i * f;
      float* id = item_den + i * f;
#pragma omp simd
      for (int64_t c = 0; c < f; ++c) {
        in[c] += pu[c] * r;
        id[c] += pu[c] * e;
      }
    }
  }
  if (biased) user_bias[u] = static_cast<float>(bu);
  return sse;
}

// One item's sums over its raters: sum_u p_uf r_ui and sum_u p_uf est_ui.
CROSSREC_TARGET_CLONES
void item_row(const CsrView& by_item, int64_t i, const int64_t* item_pos, const float* est, const float* P, int64_t f,
              float* num, float* den) {
  std::fill(num, num + f, 0.0f);
  std::fill(den, den + f, 0.0f);
  for (int64_t k = by_item.begin(i); k < by_item.end(i); ++k) {
    const float* p = P + static_cast<int64_t>(by_item.indices[k]) * f;
    const float r = by_item.data[k], e = est[item_pos[k]];
#pragma omp simd
    for (int64_t c = 0; c < f; ++c) {
      num[c] += p[c] * r;
      den[c] += p[c] * e;
    }
  }
}

}  // namespace

double nmf_epochs(int64_t n_epochs, const CsrView& ratings, const CsrView& by_item, const int64_t* item_pos,
                  const int32_t* user_order, int64_t n_order, double global_mean, float* P, float* Q, float* user_bias,
                  float* item_bias, int64_t f, const NmfParams& prm, int n_threads, double min_work) {
  const int64_t n_users = ratings.n_rows, n_items = by_item.n_rows, nnz = ratings.nnz();
  const int threads = threads_for_work(n_threads, double(nnz) * f * 2, min_work);
  const auto mu = static_cast<float>(global_mean);
  float* bu = prm.biased ? user_bias : nullptr;
  float* bi = prm.biased ? item_bias : nullptr;
  // One fused pass over the ratings when unbiased on one thread; else a user pass and an item pass.
  const bool fused = !prm.biased && threads == 1;
  std::vector<float> est(static_cast<size_t>(nnz));
  std::vector<double> user_sse(static_cast<size_t>(n_users), 0.0);
  // Both sides from the factors at the start of the epoch, written to fresh buffers.
  std::vector<float> new_p(static_cast<size_t>(n_users * f)), new_q(static_cast<size_t>(n_items * f));
  std::vector<float> item_acc(fused ? static_cast<size_t>(2 * n_items * f) : 0);
  auto make_scratch = [f] { return std::vector<float>(static_cast<size_t>(2 * f)); };
  auto user_pass = [&](int64_t u, std::vector<float>& acc) {
    float* num = acc.data();
    float* den = num + f;
    user_sse[u] = user_row(ratings, u, P, Q, f, mu, bu, bi, prm, est.data(), num, den,
                           fused ? item_acc.data() : nullptr, fused ? item_acc.data() + n_items * f : nullptr);
    multiplicative_row(P + u * f, num, den, static_cast<float>(prm.reg_pu * double(ratings.row_nnz(u))), f,
                       new_p.data() + u * f);
  };
  auto item_update = [&](int64_t i, const float* num, const float* den) {
    multiplicative_row(Q + i * f, num, den, static_cast<float>(prm.reg_qi * double(by_item.row_nnz(i))), f,
                       new_q.data() + i * f);
  };
  double sse = 0.0;
  for (int64_t epoch = 0; epoch < n_epochs; ++epoch) {
    if (fused) {
      std::fill(item_acc.begin(), item_acc.end(), 0.0f);
      auto acc = make_scratch();
      for (int64_t u = 0; u < n_users; ++u) user_pass(u, acc);
      for (int64_t i = 0; i < n_items; ++i)
        item_update(i, item_acc.data() + i * f, item_acc.data() + (n_items + i) * f);
    } else {
      if (prm.biased) {  // the biases move as the pass goes: one user after the other, in the caller's order
        auto acc = make_scratch();
        const int64_t n = user_order ? n_order : n_users;
        for (int64_t k = 0; k < n; ++k) user_pass(user_order ? user_order[k] : k, acc);
      } else {
        parallel_for(n_users, threads, 64, make_scratch, user_pass);
      }
      parallel_for(n_items, threads, 64, make_scratch, [&](int64_t i, std::vector<float>& acc) {
        item_row(by_item, i, item_pos, est.data(), P, f, acc.data(), acc.data() + f);
        item_update(i, acc.data(), acc.data() + f);
      });
    }
    std::copy(new_p.begin(), new_p.end(), P);
    std::copy(new_q.begin(), new_q.end(), Q);
    sse = 0.0;
    for (double s : user_sse) sse += s;
  }
  return sse;
}

}  // namespace crossrec
