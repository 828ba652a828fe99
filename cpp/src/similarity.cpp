#include "crossrec/similarity.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "crossrec/parallel.hpp"
#include "crossrec/topk.hpp"

namespace crossrec {

namespace {

int stride_of(SimKind kind) {
  switch (kind) {
    case SimKind::cosine:
    case SimKind::msd:
      return 2;
    case SimKind::cosine_corated:
    case SimKind::pearson_baseline:
      return 4;
    case SimKind::pearson:
      return 6;
    case SimKind::jaccard:
      return 1;
  }
  return 1;
}

// The inner loop, specialised per kind so that each updates only the sums it needs.
// Track: keep a list of first-touched rows (sparse rows); otherwise the caller scans all rows.
template <SimKind K, bool Track>
void accumulate_row(const CsrView& rows, const CsrView& cols, int64_t i, double* acc, std::vector<int32_t>& touched) {
  constexpr int S = K == SimKind::cosine || K == SimKind::msd ? 2
                    : K == SimKind::pearson                  ? 6
                    : K == SimKind::jaccard                  ? 1
                                                             : 4;
  for (int64_t p = rows.begin(i); p < rows.end(i); ++p) {
    const int32_t c = rows.indices[p];
    const double x = rows.value(p);
    const double xx = x * x;
    const int64_t q_end = cols.end(c);
    for (int64_t q = cols.begin(c); q < q_end; ++q) {
      const int32_t j = cols.indices[q];
      double* a = acc + static_cast<int64_t>(j) * S;
      if (Track && a[0] == 0.0) touched.push_back(j);
      a[0] += 1.0;
      if constexpr (K != SimKind::jaccard) {
        const double y = cols.value(q);
        if constexpr (K == SimKind::cosine) {
          a[1] += x * y;
        } else if constexpr (K == SimKind::msd) {
          a[1] += (x - y) * (x - y);
        } else {
          a[1] += x * y;
          a[2] += xx;
          a[3] += y * y;
          if constexpr (K == SimKind::pearson) {
            a[4] += x;
            a[5] += y;
          }
        }
      }
    }
  }
}

template <bool Track>
void accumulate_any(SimKind kind, const CsrView& rows, const CsrView& cols, int64_t i, double* acc,
                    std::vector<int32_t>& touched) {
  switch (kind) {
    case SimKind::cosine:
      return accumulate_row<SimKind::cosine, Track>(rows, cols, i, acc, touched);
    case SimKind::cosine_corated:
    case SimKind::pearson_baseline:
      return accumulate_row<SimKind::cosine_corated, Track>(rows, cols, i, acc, touched);
    case SimKind::pearson:
      return accumulate_row<SimKind::pearson, Track>(rows, cols, i, acc, touched);
    case SimKind::msd:
      return accumulate_row<SimKind::msd, Track>(rows, cols, i, acc, touched);
    case SimKind::jaccard:
      return accumulate_row<SimKind::jaccard, Track>(rows, cols, i, acc, touched);
  }
}

}  // namespace

SimilarityRow::SimilarityRow(const CsrView& rows, const CsrView& cols, const double* norms, const SimOptions& opt)
    : rows_(rows), cols_(cols), norms_(norms), opt_(opt), n_(rows.n_rows), stride_(stride_of(opt.kind)) {
  acc_.assign(static_cast<size_t>(n_) * stride_, 0.0);
  touched_.reserve(std::min<size_t>(static_cast<size_t>(n_), 1024));
}

void SimilarityRow::accumulate(int64_t i) {
  // Work of this row = number of (column entry) visits; each can touch at most one new row.
  // When it is large compared with n_rows, scanning all rows afterwards is cheaper than keeping
  // a touched list (no branch in the inner loop).
  int64_t work = 0;
  for (int64_t p = rows_.begin(i); p < rows_.end(i); ++p) work += cols_.row_nnz(rows_.indices[p]);
  dense_ = work >= n_ / 2;
  if (dense_) {
    accumulate_any<false>(opt_.kind, rows_, cols_, i, acc_.data(), touched_);
  } else {
    accumulate_any<true>(opt_.kind, rows_, cols_, i, acc_.data(), touched_);
  }
}

double SimilarityRow::finish(int64_t i, const double* a) const {
  const double n = a[0];
  const int min_support = opt_.kind == SimKind::pearson_baseline ? std::max(2, opt_.min_support) : opt_.min_support;
  if (n < min_support) return 0.0;
  double s = 0.0;
  switch (opt_.kind) {
    case SimKind::cosine: {
      const int64_t j = (a - acc_.data()) / stride_;
      const double d = norms_[i] * norms_[j];
      s = d > 0.0 ? a[1] / d : 0.0;
      break;
    }
    case SimKind::cosine_corated:
    case SimKind::pearson_baseline: {
      const double d = std::sqrt(a[2] * a[3]);
      s = d > 0.0 ? a[1] / d : 0.0;
      break;
    }
    case SimKind::pearson: {
      // Surprise's formula, term for term, so that integer ratings give bit-identical values.
      const double num = n * a[1] - a[4] * a[5];
      const double d = std::sqrt((n * a[2] - a[4] * a[4]) * (n * a[3] - a[5] * a[5]));
      s = d > 0.0 ? num / d : 0.0;
      break;
    }
    case SimKind::msd:
      s = 1.0 / (a[1] / n + 1.0);
      break;
    case SimKind::jaccard: {
      const int64_t j = (a - acc_.data()) / stride_;
      s = n / static_cast<double>(rows_.row_nnz(i) + rows_.row_nnz(j) - static_cast<int64_t>(n));
      break;
    }
  }
  if (opt_.shrink > 0.0) {
    s *= opt_.kind == SimKind::pearson_baseline ? (n - 1.0) / (n - 1.0 + opt_.shrink) : n / (n + opt_.shrink);
  }
  return s;
}

void topk_similarity(const CsrView& rows, const CsrView& cols, const double* norms, const SimOptions& opt,
                     const int32_t* query_rows, int64_t n_query, int k, int32_t* out_idx, float* out_sim,
                     int32_t* out_count, int n_threads) {
  struct Scratch {
    SimilarityRow sim;
    TopNHeap heap;
    std::vector<std::pair<int32_t, float>> row;
  };
  parallel_for(
      n_query, n_threads, 16,
      [&] { return Scratch{SimilarityRow(rows, cols, norms, opt), TopNHeap(k), {}}; },
      [&](int64_t q, Scratch& s) {
        const int64_t i = query_rows ? query_rows[q] : q;
        s.heap.clear();
        s.sim.for_each(i, [&](int32_t j, double v) { s.heap.push(j, static_cast<float>(v)); });
        int32_t* idx = out_idx + q * k;
        float* val = out_sim + q * k;
        s.heap.write(idx, val);  // best first, padded with -1
        int count = 0;
        while (count < k && idx[count] >= 0) ++count;
        // Canonical CSR order: by neighbour index.
        s.row.clear();
        for (int j = 0; j < count; ++j) s.row.emplace_back(idx[j], val[j]);
        std::sort(s.row.begin(), s.row.end());
        for (int j = 0; j < count; ++j) {
          idx[j] = s.row[j].first;
          val[j] = s.row[j].second;
        }
        out_count[q] = count;
      });
}

std::vector<double> row_norms(const CsrView& rows) {
  std::vector<double> out(static_cast<size_t>(rows.n_rows));
  for (int64_t i = 0; i < rows.n_rows; ++i) {
    double s = 0.0;
    for (int64_t p = rows.begin(i); p < rows.end(i); ++p) s += static_cast<double>(rows.value(p)) * rows.value(p);
    out[i] = std::sqrt(s);
  }
  return out;
}

CsrOwned transpose(const CsrView& m) {
  CsrOwned t;
  const int64_t nnz = m.nnz();
  t.indptr.assign(static_cast<size_t>(m.n_cols) + 1, 0);
  t.indices.resize(static_cast<size_t>(nnz));
  if (m.data) t.data.resize(static_cast<size_t>(nnz));
  for (int64_t p = 0; p < nnz; ++p) ++t.indptr[m.indices[p] + 1];
  for (int64_t c = 0; c < m.n_cols; ++c) t.indptr[c + 1] += t.indptr[c];
  std::vector<int64_t> next(t.indptr.begin(), t.indptr.end() - 1);
  // Rows visited in order, so every output row lists its entries by increasing source row.
  for (int64_t r = 0; r < m.n_rows; ++r) {
    for (int64_t p = m.begin(r); p < m.end(r); ++p) {
      const int64_t dst = next[m.indices[p]]++;
      t.indices[dst] = static_cast<int32_t>(r);
      if (m.data) t.data[dst] = m.data[p];
    }
  }
  return t;
}

}  // namespace crossrec
