#include "crossrec/similarity.hpp"

#include <algorithm>
#include <utility>

#include "crossrec/parallel.hpp"
#include "crossrec/topk.hpp"

namespace crossrec {

SimilarityRow::SimilarityRow(const CsrView& rows, const CsrView& cols, const double* norms, const SimOptions& opt)
    : rows_(rows), cols_(cols), norms_(norms), opt_(opt), n_(rows.n_rows) {
  const size_t n = static_cast<size_t>(n_);
  cnt_.assign(n, 0);
  switch (opt_.kind) {
    case SimKind::cosine:
      sxy_.assign(n, 0.0);
      break;
    case SimKind::cosine_corated:
    case SimKind::pearson_baseline:
      sxy_.assign(n, 0.0);
      sxx_.assign(n, 0.0);
      syy_.assign(n, 0.0);
      break;
    case SimKind::pearson:
      sxy_.assign(n, 0.0);
      sxx_.assign(n, 0.0);
      syy_.assign(n, 0.0);
      sx_.assign(n, 0.0);
      sy_.assign(n, 0.0);
      break;
    case SimKind::msd:
      sxx_.assign(n, 0.0);  // holds sum (x - y)^2
      break;
    case SimKind::jaccard:
      break;
  }
  touched_.reserve(std::min<size_t>(n, 1024));
}

namespace {

// The inner loop, specialised per kind so that each touches only the sums it needs.
// `mark(j)` records a first touch (sparse mode); in dense mode it is a no-op.
template <SimKind K, bool Track>
void accumulate_row(const CsrView& rows, const CsrView& cols, int64_t i, int32_t* cnt, double* sxy, double* sxx,
                    double* syy, double* sx, double* sy, std::vector<int32_t>& touched) {
  for (int64_t p = rows.begin(i); p < rows.end(i); ++p) {
    const int32_t c = rows.indices[p];
    const double x = rows.value(p);
    const int64_t q_end = cols.end(c);
    for (int64_t q = cols.begin(c); q < q_end; ++q) {
      const int32_t j = cols.indices[q];
      if (Track && cnt[j] == 0) touched.push_back(j);
      ++cnt[j];
      if constexpr (K == SimKind::jaccard) continue;
      const double y = cols.value(q);
      if constexpr (K == SimKind::cosine) {
        sxy[j] += x * y;
      } else if constexpr (K == SimKind::msd) {
        sxx[j] += (x - y) * (x - y);
      } else {
        sxy[j] += x * y;
        sxx[j] += x * x;
        syy[j] += y * y;
        if constexpr (K == SimKind::pearson) {
          sx[j] += x;
          sy[j] += y;
        }
      }
    }
  }
}

template <bool Track>
void accumulate_any(SimKind kind, const CsrView& rows, const CsrView& cols, int64_t i, int32_t* cnt, double* sxy,
                    double* sxx, double* syy, double* sx, double* sy, std::vector<int32_t>& touched) {
  switch (kind) {
    case SimKind::cosine:
      return accumulate_row<SimKind::cosine, Track>(rows, cols, i, cnt, sxy, sxx, syy, sx, sy, touched);
    case SimKind::cosine_corated:
    case SimKind::pearson_baseline:
      return accumulate_row<SimKind::cosine_corated, Track>(rows, cols, i, cnt, sxy, sxx, syy, sx, sy, touched);
    case SimKind::pearson:
      return accumulate_row<SimKind::pearson, Track>(rows, cols, i, cnt, sxy, sxx, syy, sx, sy, touched);
    case SimKind::msd:
      return accumulate_row<SimKind::msd, Track>(rows, cols, i, cnt, sxy, sxx, syy, sx, sy, touched);
    case SimKind::jaccard:
      return accumulate_row<SimKind::jaccard, Track>(rows, cols, i, cnt, sxy, sxx, syy, sx, sy, touched);
  }
}

double* ptr(std::vector<double>& v) { return v.empty() ? nullptr : v.data(); }

}  // namespace

void SimilarityRow::accumulate(int64_t i) {
  // Work of this row = number of (column entry) visits; each can touch at most one new row.
  // When it is large compared with n_rows, scanning all rows afterwards is cheaper than keeping
  // a touched list (no branch in the inner loop).
  int64_t work = 0;
  for (int64_t p = rows_.begin(i); p < rows_.end(i); ++p) work += cols_.row_nnz(rows_.indices[p]);
  dense_ = work >= n_ / 2;
  if (dense_) {
    accumulate_any<false>(opt_.kind, rows_, cols_, i, cnt_.data(), ptr(sxy_), ptr(sxx_), ptr(syy_), ptr(sx_),
                          ptr(sy_), touched_);
  } else {
    accumulate_any<true>(opt_.kind, rows_, cols_, i, cnt_.data(), ptr(sxy_), ptr(sxx_), ptr(syy_), ptr(sx_),
                         ptr(sy_), touched_);
  }
}

double SimilarityRow::finish(int64_t i, int64_t j) const {
  const double n = cnt_[j];
  const int min_support = opt_.kind == SimKind::pearson_baseline ? std::max(2, opt_.min_support) : opt_.min_support;
  if (cnt_[j] < min_support) return 0.0;
  double s = 0.0;
  switch (opt_.kind) {
    case SimKind::cosine: {
      const double d = norms_[i] * norms_[j];
      s = d > 0.0 ? sxy_[j] / d : 0.0;
      break;
    }
    case SimKind::cosine_corated:
    case SimKind::pearson_baseline: {
      const double d = std::sqrt(sxx_[j] * syy_[j]);
      s = d > 0.0 ? sxy_[j] / d : 0.0;
      break;
    }
    case SimKind::pearson: {
      // Surprise's formula, term for term, so that integer ratings give bit-identical values.
      const double num = n * sxy_[j] - sx_[j] * sy_[j];
      const double d = std::sqrt((n * sxx_[j] - sx_[j] * sx_[j]) * (n * syy_[j] - sy_[j] * sy_[j]));
      s = d > 0.0 ? num / d : 0.0;
      break;
    }
    case SimKind::msd:
      s = 1.0 / (sxx_[j] / n + 1.0);
      break;
    case SimKind::jaccard:
      s = n / static_cast<double>(rows_.row_nnz(i) + rows_.row_nnz(j) - cnt_[j]);
      break;
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
