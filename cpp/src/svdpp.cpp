#include "crossrec/svdpp.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "crossrec/parallel.hpp"

namespace crossrec {

double svdpp_epoch(const CsrView& ratings, const int32_t* user_order, int64_t n_order, double global_mean,
                   const SvdppState& st, const SvdppParams& prm) {
  const int64_t f = st.f;
  std::vector<double> sum_y(f), delta(f), implicit(f), pu(f);
  const double decay = 1.0 - prm.lr_yj * prm.reg_yj;  // y <- decay * y + lr_yj * g
  const int64_t n_users = user_order ? n_order : ratings.n_rows;
  double sse = 0.0;
  for (int64_t k = 0; k < n_users; ++k) {
    const int64_t u = user_order ? user_order[k] : k;
    const int64_t begin = ratings.begin(u), end = ratings.end(u);
    const int64_t count = end - begin;
    if (count == 0) continue;
    const double inv_sqrt = 1.0 / std::sqrt(static_cast<double>(count));
    std::fill(sum_y.begin(), sum_y.end(), 0.0);
    std::fill(delta.begin(), delta.end(), 0.0);
    for (int64_t p = begin; p < end; ++p) {
      const float* y = st.Y + static_cast<int64_t>(ratings.indices[p]) * f;
      for (int64_t c = 0; c < f; ++c) sum_y[c] += y[c];
    }
    float* pu_row = st.P + u * f;
    for (int64_t c = 0; c < f; ++c) pu[c] = pu_row[c];
    double bu = st.user_bias[u];
    double scale = 1.0;  // every y_j of the user is scale * y_j(start) + delta
    for (int64_t p = begin; p < end; ++p) {
      const int64_t i = ratings.indices[p];
      float* qi = st.Q + i * f;
      double dot = 0.0;
      for (int64_t c = 0; c < f; ++c) {
        implicit[c] = sum_y[c] * inv_sqrt;
        dot += qi[c] * (pu[c] + implicit[c]);
      }
      const double bi = st.item_bias[i];
      const double err = ratings.data[p] - (global_mean + bu + bi + dot);
      sse += err * err;
      bu += prm.lr_bu * (err - prm.reg_bu * bu);
      st.item_bias[i] = static_cast<float>(bi + prm.lr_bi * (err - prm.reg_bi * bi));
      for (int64_t c = 0; c < f; ++c) {
        const double puf = pu[c], qif = qi[c];
        pu[c] = puf + prm.lr_pu * (err * qif - prm.reg_pu * puf);
        qi[c] = static_cast<float>(qif + prm.lr_qi * (err * (puf + implicit[c]) - prm.reg_qi * qif));
        const double step = prm.lr_yj * err * qif * inv_sqrt;
        delta[c] = decay * delta[c] + step;
        sum_y[c] = decay * sum_y[c] + static_cast<double>(count) * step;
      }
      scale *= decay;
    }
    for (int64_t p = begin; p < end; ++p) {
      float* y = st.Y + static_cast<int64_t>(ratings.indices[p]) * f;
      for (int64_t c = 0; c < f; ++c) y[c] = static_cast<float>(scale * y[c] + delta[c]);
    }
    for (int64_t c = 0; c < f; ++c) pu_row[c] = static_cast<float>(pu[c]);
    st.user_bias[u] = static_cast<float>(bu);
  }
  return sse;
}

void svdpp_user_vectors(const CsrView& ratings, const float* P, const float* Y, int64_t f, float* out, int n_threads,
                        double min_work) {
  const int threads = threads_for_work(n_threads, double(ratings.nnz()) * f, min_work);
  parallel_for(
      ratings.n_rows, threads, 64, [f] { return std::vector<double>(f); },
      [&](int64_t u, std::vector<double>& acc) {
        float* row = out + u * f;
        const int64_t count = ratings.row_nnz(u);
        if (count == 0) {  // a user without training ratings has no factors (Surprise: unknown user)
          std::fill(row, row + f, 0.0f);
          return;
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t p = ratings.begin(u); p < ratings.end(u); ++p) {
          const float* y = Y + static_cast<int64_t>(ratings.indices[p]) * f;
          for (int64_t c = 0; c < f; ++c) acc[c] += y[c];
        }
        const double inv_sqrt = 1.0 / std::sqrt(static_cast<double>(count));
        for (int64_t c = 0; c < f; ++c) row[c] = static_cast<float>(P[u * f + c] + acc[c] * inv_sqrt);
      });
}

}  // namespace crossrec
