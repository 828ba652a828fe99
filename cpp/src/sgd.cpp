#include "crossrec/sgd.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "crossrec/dense.hpp"
#include "crossrec/parallel.hpp"
#include "crossrec/random.hpp"

namespace crossrec {
namespace {

// One sample of the epoch: user and position of the stored entry.
struct Entry {
  int32_t user;
  int64_t pos;
};

// Entries bucketed by (user group, item group) for one epoch.
struct Strata {
  std::vector<int32_t> user_group, item_group;
  std::vector<int64_t> start;  // kStrata^2 + 1 offsets into entries
  std::vector<Entry> entries;
  std::vector<int64_t> item_start;  // kStrata + 1 offsets into items (items sorted by group)
  std::vector<int32_t> items;
};

int group_of(uint64_t seed, uint64_t epoch, uint64_t side, uint64_t id) {
  return static_cast<int>(splitmix64(splitmix64(seed ^ splitmix64(epoch * 2 + side)) ^ id) % kStrata);
}

Strata make_strata(const CsrView& m, uint64_t seed, uint64_t epoch, bool positives_only) {
  Strata s;
  s.user_group.resize(m.n_rows);
  s.item_group.resize(m.n_cols);
  for (int64_t u = 0; u < m.n_rows; ++u) s.user_group[u] = group_of(seed, epoch, 0, u);
  for (int64_t i = 0; i < m.n_cols; ++i) s.item_group[i] = group_of(seed, epoch, 1, i);
  constexpr int kBlocks = kStrata * kStrata;
  std::vector<int64_t> count(kBlocks + 1, 0);
  auto keep = [&](int64_t p) { return !positives_only || m.value(p) > 0.0f; };
  for (int64_t u = 0; u < m.n_rows; ++u)
    for (int64_t p = m.begin(u); p < m.end(u); ++p)
      if (keep(p)) ++count[s.user_group[u] * kStrata + s.item_group[m.indices[p]] + 1];
  for (int b = 0; b < kBlocks; ++b) count[b + 1] += count[b];
  s.start = count;
  s.entries.resize(count[kBlocks]);
  for (int64_t u = 0; u < m.n_rows; ++u)
    for (int64_t p = m.begin(u); p < m.end(u); ++p)
      if (keep(p)) s.entries[count[s.user_group[u] * kStrata + s.item_group[m.indices[p]]]++] = {int32_t(u), p};
  std::vector<int64_t> icount(kStrata + 1, 0);
  for (int64_t i = 0; i < m.n_cols; ++i) ++icount[s.item_group[i] + 1];
  for (int g = 0; g < kStrata; ++g) icount[g + 1] += icount[g];
  s.item_start = icount;
  s.items.resize(m.n_cols);
  for (int64_t i = 0; i < m.n_cols; ++i) s.items[icount[s.item_group[i]]++] = static_cast<int32_t>(i);
  return s;
}

// Runs body(block, rng) for every block, sub-epoch by sub-epoch; blocks of one sub-epoch in parallel.
template <class Body>
void for_each_block(const SgdParams& params, int n_threads, Body&& body) {
  for (int s = 0; s < kStrata; ++s) {
    parallel_for(kStrata, n_threads, 1, [&](int64_t g) {
      const int64_t block = g * kStrata + (g + s) % kStrata;
      Rng rng(params.seed, params.epoch * kStrata * kStrata + block);
      body(block, rng);
    });
  }
}

void shuffle(Entry* first, int64_t n, Rng& rng) {
  for (int64_t k = n - 1; k > 0; --k) std::swap(first[k], first[rng.below(k + 1)]);
}

// Few rows per thread: waking a team costs more than it saves (results do not depend on it).
int threads_for(int n_threads, double flops) {
  const int cap = static_cast<int>(std::min(1024.0, std::max(1.0, flops / 4e6)));
  return std::min(resolve_threads(n_threads), cap);
}

float prior_weight(const RowPrior& p, int64_t row) { return p.weight ? p.weight[row] : 0.0f; }

CROSSREC_TARGET_CLONES
double sgd_block(const CsrView& m, const float* weights, float mu, const FactorState& st, const SgdParams& params,
                 const RowPrior& up, const RowPrior& ip, Entry* entries, int64_t n, Rng& rng) {
  shuffle(entries, n, rng);
  const int64_t f = st.f;
  const float lr = params.learning_rate, reg = params.regularization, reg_b = params.bias_regularization;
  double sse = 0.0;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t u = entries[k].user;
    const int64_t p = entries[k].pos;
    const int64_t i = m.indices[p];
    const float v = weights ? weights[p] : 1.0f;
    float* x = st.X + u * f;
    float* y = st.Y + i * f;
    float pred = mu + dot(x, y, f);
    if (st.user_bias) pred += st.user_bias[u] + st.item_bias[i];
    const float e = m.value(p) - pred;
    sse += static_cast<double>(v) * e * e;
    const float ve = v * e;
    const float wu = prior_weight(up, u), wi = prior_weight(ip, i);
    if (st.user_bias) {
      const float bu = st.user_bias[u];
      float gb = ve - reg_b * bu;
      if (st.user_bias_target && wu > 0.0f) gb -= wu * (bu - st.user_bias_target[u]);
      st.user_bias[u] = bu + lr * gb;
      st.item_bias[i] += lr * (ve - reg_b * st.item_bias[i]);
    }
    const float* tu = wu > 0.0f ? up.target + u * f : nullptr;
    const float* ti = wi > 0.0f ? ip.target + i * f : nullptr;
    if (!tu && !ti) {  // the common case, kept branch-free so it vectorises
#pragma omp simd
      for (int64_t c = 0; c < f; ++c) {
        const float xc = x[c], yc = y[c];
        x[c] = xc + lr * (ve * yc - reg * xc);
        y[c] = yc + lr * (ve * xc - reg * yc);
      }
      continue;
    }
    for (int64_t c = 0; c < f; ++c) {
      const float xc = x[c], yc = y[c];
      float gx = ve * yc - reg * xc;
      float gy = ve * xc - reg * yc;
      if (tu) gx -= wu * (xc - tu[c]);
      if (ti) gy -= wi * (yc - ti[c]);
      x[c] = xc + lr * gx;
      y[c] = yc + lr * gy;
    }
  }
  return sse;
}

bool stored(const CsrView& m, int64_t u, int32_t item) {
  const int32_t* first = m.indices + m.begin(u);
  const int32_t* last = m.indices + m.end(u);
  return std::binary_search(first, last, item);
}

constexpr int kNegativeTries = 16;

CROSSREC_TARGET_CLONES
void bpr_block(const CsrView& m, const Strata& s, const FactorState& st, const SgdParams& params, const RowPrior& up,
               const RowPrior& ip, Entry* entries, int64_t n, int item_group, Rng& rng, double* loss, int64_t* correct,
               int64_t* taken) {
  shuffle(entries, n, rng);
  const int64_t f = st.f;
  const float lr = params.learning_rate, reg = params.regularization, reg_b = params.bias_regularization;
  const int32_t* group_items = s.items.data() + s.item_start[item_group];
  const int64_t n_group = s.item_start[item_group + 1] - s.item_start[item_group];
  double loss_sum = 0.0;  // locals: the compiler cannot keep values behind the out-pointers in registers
  int64_t n_correct = 0, n_taken = 0;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t u = entries[k].user;
    const int32_t i = m.indices[entries[k].pos];
    int32_t j = -1;
    for (int t = 0; t < kNegativeTries && j < 0; ++t) {
      const int32_t cand = group_items[rng.below(static_cast<uint64_t>(n_group))];
      if (!stored(m, u, cand)) j = cand;
    }
    if (j < 0) continue;  // the user holds (nearly) every item of this group
    float* x = st.X + u * f;
    float* yi = st.Y + int64_t(i) * f;
    float* yj = st.Y + int64_t(j) * f;
    float score = 0.0f;
#pragma omp simd reduction(+ : score)
    for (int64_t c = 0; c < f; ++c) score += x[c] * (yi[c] - yj[c]);
    if (st.item_bias) score += st.item_bias[i] - st.item_bias[j];
    // -log sigmoid(score) and z = sigmoid(-score) = -d loss / d score from one exp, without overflow
    const float e = std::exp(-std::fabs(score));
    loss_sum += (score > 0.0f ? 0.0f : -score) + std::log1p(e);
    const float z = score > 0.0f ? e / (1.0f + e) : 1.0f / (1.0f + e);
    n_correct += score > 0.0f;
    ++n_taken;
    if (st.item_bias) {
      st.item_bias[i] += lr * (z - reg_b * st.item_bias[i]);
      st.item_bias[j] += lr * (-z - reg_b * st.item_bias[j]);
    }
    const float wu = prior_weight(up, u), wi = prior_weight(ip, i), wj = prior_weight(ip, j);
    const float* tu = wu > 0.0f ? up.target + u * f : nullptr;
    const float* ti = wi > 0.0f ? ip.target + int64_t(i) * f : nullptr;
    const float* tj = wj > 0.0f ? ip.target + int64_t(j) * f : nullptr;
    if (!tu && !ti && !tj) {
#pragma omp simd
      for (int64_t c = 0; c < f; ++c) {
        const float xc = x[c], ic = yi[c], jc = yj[c];
        x[c] = xc + lr * (z * (ic - jc) - reg * xc);
        yi[c] = ic + lr * (z * xc - reg * ic);
        yj[c] = jc + lr * (-z * xc - reg * jc);
      }
      continue;
    }
    for (int64_t c = 0; c < f; ++c) {
      const float xc = x[c], ic = yi[c], jc = yj[c];
      float gx = z * (ic - jc) - reg * xc;
      float gi = z * xc - reg * ic;
      float gj = -z * xc - reg * jc;
      if (tu) gx -= wu * (xc - tu[c]);
      if (ti) gi -= wi * (ic - ti[c]);
      if (tj) gj -= wj * (jc - tj[c]);
      x[c] = xc + lr * gx;
      yi[c] = ic + lr * gi;
      yj[c] = jc + lr * gj;
    }
  }
  *loss = loss_sum;
  *correct = n_correct;
  *taken = n_taken;
}

}  // namespace

double sgd_epoch(const CsrView& m, const float* weights, float global_mean, const FactorState& st,
                 const SgdParams& params, const RowPrior& up, const RowPrior& ip, int n_threads) {
  Strata s = make_strata(m, params.seed, params.epoch, false);
  std::vector<double> block_sse(kStrata * kStrata, 0.0);
  n_threads = threads_for(n_threads, double(m.nnz()) * st.f * 8 / kStrata);
  for_each_block(params, n_threads, [&](int64_t b, Rng& rng) {
    block_sse[b] = sgd_block(m, weights, global_mean, st, params, up, ip, s.entries.data() + s.start[b],
                             s.start[b + 1] - s.start[b], rng);
  });
  double total = 0.0;
  for (double v : block_sse) total += v;  // fixed order: same sum on any thread count
  return total;
}

int64_t bpr_epoch(const CsrView& m, const FactorState& st, const SgdParams& params, const RowPrior& up,
                  const RowPrior& ip, int n_threads, double* loss, int64_t* correct) {
  Strata s = make_strata(m, params.seed, params.epoch, true);
  constexpr int kBlocks = kStrata * kStrata;
  std::vector<double> block_loss(kBlocks, 0.0);
  std::vector<int64_t> block_correct(kBlocks, 0), block_taken(kBlocks, 0);
  n_threads = threads_for(n_threads, double(m.nnz()) * st.f * 12 / kStrata);
  for_each_block(params, n_threads, [&](int64_t b, Rng& rng) {
    bpr_block(m, s, st, params, up, ip, s.entries.data() + s.start[b], s.start[b + 1] - s.start[b],
              static_cast<int>(b % kStrata), rng, &block_loss[b], &block_correct[b], &block_taken[b]);
  });
  *loss = 0.0;
  *correct = 0;
  int64_t taken = 0;
  for (int b = 0; b < kBlocks; ++b) {
    *loss += block_loss[b];
    *correct += block_correct[b];
    taken += block_taken[b];
  }
  return taken;
}

}  // namespace crossrec
