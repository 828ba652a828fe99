#include "crossrec/coclustering.hpp"

#include <algorithm>
#include <vector>

#include "crossrec/parallel.hpp"

namespace crossrec {

namespace {
constexpr int64_t kBlock = 256;  // users per partial sum: fixed, so sums do not depend on threads

}  // namespace

void coclustering_averages(const CsrView& ratings, const int32_t* cltr_u, const int32_t* cltr_i, int n_cltr_u,
                           int n_cltr_i, double global_mean, const CoclusterAverages& out, int n_threads,
                           double min_work) {
  const int64_t n_blocks = (ratings.n_rows + kBlock - 1) / kBlock;
  const int64_t width = 2 * (int64_t(n_cltr_u) + n_cltr_i + int64_t(n_cltr_u) * n_cltr_i);
  // Per block: [count_u, sum_u, count_i, sum_i, count_co, sum_co] laid out one after the other.
  std::vector<double> partial(static_cast<size_t>(n_blocks * width), 0.0);
  const int64_t cu = 0, su = n_cltr_u, ci = 2 * n_cltr_u, si = ci + n_cltr_i, cc = si + n_cltr_i,
                sc = cc + int64_t(n_cltr_u) * n_cltr_i;
  parallel_for(n_blocks, threads_for_work(n_threads, double(ratings.nnz()) * 6, min_work), 1, [&](int64_t b) {
    double* acc = partial.data() + b * width;
    const int64_t end = std::min(ratings.n_rows, (b + 1) * kBlock);
    for (int64_t u = b * kBlock; u < end; ++u) {
      const int64_t uc = cltr_u[u];
      for (int64_t p = ratings.begin(u); p < ratings.end(u); ++p) {
        const int64_t ic = cltr_i[ratings.indices[p]];
        const double r = ratings.data[p];
        acc[cu + uc] += 1;
        acc[su + uc] += r;
        acc[ci + ic] += 1;
        acc[si + ic] += r;
        acc[cc + uc * n_cltr_i + ic] += 1;
        acc[sc + uc * n_cltr_i + ic] += r;
      }
    }
  });
  std::vector<double> total(static_cast<size_t>(width), 0.0);
  for (int64_t b = 0; b < n_blocks; ++b)
    for (int64_t w = 0; w < width; ++w) total[w] += partial[b * width + w];
  auto mean = [&](int64_t count_at, int64_t sum_at) {
    return total[count_at] > 0 ? total[sum_at] / total[count_at] : global_mean;
  };
  for (int64_t c = 0; c < n_cltr_u; ++c) out.user_avg[c] = mean(cu + c, su + c);
  for (int64_t c = 0; c < n_cltr_i; ++c) out.item_avg[c] = mean(ci + c, si + c);
  for (int64_t c = 0; c < int64_t(n_cltr_u) * n_cltr_i; ++c) out.cocluster[c] = mean(cc + c, sc + c);
}

int64_t coclustering_assign(const CsrView& ratings, const CsrView& by_item, const double* user_mean,
                            const double* item_mean, int32_t* cltr_u, int32_t* cltr_i, int n_cltr_u, int n_cltr_i,
                            const double* user_avg, const double* item_avg, const double* cocluster, int n_threads,
                            double min_work) {
  const int threads = threads_for_work(n_threads, double(ratings.nnz()) * (n_cltr_u + n_cltr_i) * 4, min_work);
  std::vector<uint8_t> moved_u(static_cast<size_t>(ratings.n_rows), 0), moved_i(static_cast<size_t>(by_item.n_rows), 0);
  auto errors_scratch = [n = std::max(n_cltr_u, n_cltr_i)] { return std::vector<double>(static_cast<size_t>(n)); };
  parallel_for(ratings.n_rows, threads, 64, errors_scratch, [&](int64_t u, std::vector<double>& err) {
    if (ratings.row_nnz(u) == 0) return;  // no rating: nothing to assign by
    for (int uc = 0; uc < n_cltr_u; ++uc) {
      double e = 0.0;
      for (int64_t p = ratings.begin(u); p < ratings.end(u); ++p) {
        const int64_t i = ratings.indices[p];
        const int64_t ic = cltr_i[i];
        const double est = cocluster[uc * n_cltr_i + ic] + user_mean[u] - user_avg[uc] + item_mean[i] - item_avg[ic];
        const double d = ratings.data[p] - est;
        e += d * d;
      }
      err[uc] = e;
    }
    const auto best = static_cast<int32_t>(std::min_element(err.begin(), err.begin() + n_cltr_u) - err.begin());
    moved_u[u] = best != cltr_u[u];
    cltr_u[u] = best;
  });
  parallel_for(by_item.n_rows, threads, 64, errors_scratch, [&](int64_t i, std::vector<double>& err) {
    if (by_item.row_nnz(i) == 0) return;
    for (int ic = 0; ic < n_cltr_i; ++ic) {
      double e = 0.0;
      for (int64_t k = by_item.begin(i); k < by_item.end(i); ++k) {
        const int64_t u = by_item.indices[k];
        const int64_t uc = cltr_u[u];
        const double est = cocluster[uc * n_cltr_i + ic] + user_mean[u] - user_avg[uc] + item_mean[i] - item_avg[ic];
        const double d = by_item.data[k] - est;
        e += d * d;
      }
      err[ic] = e;
    }
    const auto best = static_cast<int32_t>(std::min_element(err.begin(), err.begin() + n_cltr_i) - err.begin());
    moved_i[i] = best != cltr_i[i];
    cltr_i[i] = best;
  });
  int64_t moved = 0;
  for (auto m : moved_u) moved += m;
  for (auto m : moved_i) moved += m;
  return moved;
}

}  // namespace crossrec
