#include "crossrec/slope_one.hpp"

#include <algorithm>
#include <vector>

#include "crossrec/parallel.hpp"

namespace crossrec {

namespace {

struct Row {
  std::vector<int32_t> cols, freq;
  std::vector<float> dev;
};

struct FitScratch {
  std::vector<double> sum;
  std::vector<int32_t> count, touched;
};

// Clip to [lo, hi] when asked.
double clipped(double x, bool clip, double lo, double hi) { return clip ? std::min(hi, std::max(lo, x)) : x; }

}  // namespace

SlopeOneTable slope_one_fit(const CsrView& ratings, const CsrView& by_item, int n_threads, double min_work) {
  const int64_t n_items = by_item.n_rows;
  // Work: sum over users of |I_u|^2 pair visits.
  double work = 0.0;
  for (int64_t u = 0; u < ratings.n_rows; ++u) work += double(ratings.row_nnz(u)) * ratings.row_nnz(u);
  std::vector<Row> rows(static_cast<size_t>(n_items));
  parallel_for(
      n_items, threads_for_work(n_threads, 3 * work, min_work), 16,
      [n_items] {
        FitScratch s;
        s.sum.assign(static_cast<size_t>(n_items), 0.0);
        s.count.assign(static_cast<size_t>(n_items), 0);
        return s;
      },
      [&](int64_t i, FitScratch& s) {
        for (int64_t k = by_item.begin(i); k < by_item.end(i); ++k) {
          const int64_t u = by_item.indices[k];
          const double r_ui = by_item.data[k];
          for (int64_t p = ratings.begin(u); p < ratings.end(u); ++p) {
            const int32_t j = ratings.indices[p];
            if (s.count[j]++ == 0) s.touched.push_back(j);
            s.sum[j] += r_ui - static_cast<double>(ratings.data[p]);
          }
        }
        // Column order: sort the touched columns, or scan the counts when that is cheaper
        // (dense rows: on ML-100K a row touches most of the catalogue).
        if (s.touched.size() * 16 > static_cast<size_t>(n_items)) {
          size_t t = 0;
          for (int32_t j = 0; j < n_items; ++j)
            if (s.count[j] > 0) s.touched[t++] = j;
        } else {
          std::sort(s.touched.begin(), s.touched.end());
        }
        Row& row = rows[static_cast<size_t>(i)];
        row.cols = s.touched;
        row.freq.resize(s.touched.size());
        row.dev.resize(s.touched.size());
        for (size_t t = 0; t < s.touched.size(); ++t) {
          const int32_t j = s.touched[t];
          row.freq[t] = s.count[j];
          row.dev[t] = j == i ? 0.0f : static_cast<float>(s.sum[j] / s.count[j]);
          s.sum[j] = 0.0;
          s.count[j] = 0;
        }
        s.touched.clear();
      });
  SlopeOneTable table;
  table.indptr.assign(static_cast<size_t>(n_items + 1), 0);
  for (int64_t i = 0; i < n_items; ++i) table.indptr[i + 1] = table.indptr[i] + int64_t(rows[i].cols.size());
  const auto nnz = static_cast<size_t>(table.indptr[n_items]);
  table.indices.resize(nnz);
  table.dev.resize(nnz);
  table.freq.resize(nnz);
  for (int64_t i = 0; i < n_items; ++i) {
    const auto at = static_cast<size_t>(table.indptr[i]);
    std::copy(rows[i].cols.begin(), rows[i].cols.end(), table.indices.begin() + at);
    std::copy(rows[i].dev.begin(), rows[i].dev.end(), table.dev.begin() + at);
    std::copy(rows[i].freq.begin(), rows[i].freq.end(), table.freq.begin() + at);
    Row().cols.swap(rows[i].cols);  // free as we go
  }
  return table;
}

void slope_one_predict(const SlopeOneModel& m, const int32_t* users, const int32_t* items, int64_t n, bool clip,
                       double lo, double hi, float* out, int n_threads, double min_work) {
  double work = 0.0;
  for (int64_t k = 0; k < n; ++k) work += double(m.ratings.row_nnz(users[k])) * 4;
  const int threads = threads_for_work(n_threads, work, min_work);
  parallel_for(n, threads, 256, [&](int64_t k) {
    const int64_t u = users[k], i = items[k];
    if (m.ratings.row_nnz(u) == 0 || m.item_count[i] == 0) {  // Surprise: unknown -> global mean
      out[k] = static_cast<float>(clipped(m.global_mean, clip, lo, hi));
      return;
    }
    // Merge the user's sorted items with row i of the table (sorted too).
    const int32_t* col = m.table.indices + m.table.begin(i);
    const int32_t* col_end = m.table.indices + m.table.end(i);
    double sum = 0.0, weight = 0.0;
    int64_t used = 0;
    for (int64_t p = m.ratings.begin(u); p < m.ratings.end(u) && col != col_end; ++p) {
      const int32_t j = m.ratings.indices[p];
      col = std::lower_bound(col, col_end, j);
      if (col == col_end || *col != j) continue;
      const int64_t t = col - m.table.indices;
      if (m.weighted) {
        sum += (static_cast<double>(m.table.data[t]) + m.ratings.data[p]) * m.freq[t];
        weight += m.freq[t];
      } else {
        sum += m.table.data[t];
        ++used;
      }
    }
    double est = m.user_mean[u];
    if (m.weighted) {
      if (weight > 0) est = sum / weight;
    } else if (used > 0) {
      est += sum / static_cast<double>(used);
    }
    out[k] = static_cast<float>(clipped(est, clip, lo, hi));
  });
}

void slope_one_scores(const SlopeOneModel& m, const int32_t* users, int64_t n, float* out, int n_threads,
                      double min_work) {
  const int64_t n_items = m.table.n_rows;
  parallel_for(
      n, threads_for_work(n_threads, double(n) * n_items * 20, min_work), 1,
      [n_items] { return std::make_pair(std::vector<double>(n_items), std::vector<double>(n_items)); },
      [&](int64_t k, std::pair<std::vector<double>, std::vector<double>>& s) {
        const int64_t u = users[k];
        float* row = out + k * n_items;
        if (m.ratings.row_nnz(u) == 0) {
          std::fill(row, row + n_items, static_cast<float>(m.global_mean));
          return;
        }
        auto& sum = s.first;
        auto& weight = s.second;  // plain: the number of relevant items; weighted: sum of freq
        std::fill(sum.begin(), sum.end(), 0.0);
        std::fill(weight.begin(), weight.end(), 0.0);
        // Row j of the table holds dev(j, i) = -dev(i, j) for every i co-rated with j.
        for (int64_t p = m.ratings.begin(u); p < m.ratings.end(u); ++p) {
          const int64_t j = m.ratings.indices[p];
          const double r_uj = m.ratings.data[p];
          for (int64_t t = m.table.begin(j); t < m.table.end(j); ++t) {
            const int32_t i = m.table.indices[t];
            const double dev_ij = -static_cast<double>(m.table.data[t]);
            if (m.weighted) {
              sum[i] += (dev_ij + r_uj) * m.freq[t];
              weight[i] += m.freq[t];
            } else {
              sum[i] += dev_ij;
              weight[i] += 1.0;
            }
          }
        }
        const double mu_u = m.user_mean[u];
        for (int64_t i = 0; i < n_items; ++i) {
          double est;
          if (m.item_count[i] == 0)
            est = m.global_mean;
          else if (weight[i] == 0)
            est = mu_u;
          else
            est = m.weighted ? sum[i] / weight[i] : mu_u + sum[i] / weight[i];
          row[i] = static_cast<float>(est);
        }
      });
}

}  // namespace crossrec
