#include "crossrec/similarity.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "crossrec/parallel.hpp"

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
template <SimKind K, bool Track, class T>
void accumulate_row(const CsrView& rows, const CsrView& cols, int64_t i, T* acc, std::vector<int32_t>& touched) {
  constexpr int S = K == SimKind::cosine || K == SimKind::msd ? 2
                    : K == SimKind::pearson                   ? 6
                    : K == SimKind::jaccard                   ? 1
                                                              : 4;
  for (int64_t p = rows.begin(i); p < rows.end(i); ++p) {
    const int32_t c = rows.indices[p];
    const T x = rows.value(p);
    const T xx = x * x;
    const int64_t q_end = cols.end(c);
    for (int64_t q = cols.begin(c); q < q_end; ++q) {
      const int32_t j = cols.indices[q];
      T* a = acc + static_cast<int64_t>(j) * S;
      if (Track && a[0] == T(0)) touched.push_back(j);
      a[0] += T(1);
      if constexpr (K != SimKind::jaccard) {
        const T y = cols.value(q);
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

// Plain cosine: one sum per row, the hottest loop of item-item CF on implicit data.
template <bool Track, class T>
void accumulate_plain_cosine(const CsrView& rows, const CsrView& cols, int64_t i, T* acc,
                             std::vector<int32_t>& touched) {
  for (int64_t p = rows.begin(i); p < rows.end(i); ++p) {
    const int32_t c = rows.indices[p];
    const T x = rows.value(p);
    const int64_t q_end = cols.end(c);
    const int32_t* idx = cols.indices;
    if (cols.data) {
      for (int64_t q = cols.begin(c); q < q_end; ++q) {
        const int32_t j = idx[q];
        if (Track && acc[j] == T(0)) touched.push_back(j);
        acc[j] += x * cols.data[q];
      }
    } else {
      for (int64_t q = cols.begin(c); q < q_end; ++q) {
        const int32_t j = idx[q];
        if (Track && acc[j] == T(0)) touched.push_back(j);
        acc[j] += x;
      }
    }
  }
}

template <bool Track, class T>
void accumulate_any(SimKind kind, const CsrView& rows, const CsrView& cols, int64_t i, T* acc,
                    std::vector<int32_t>& touched) {
  switch (kind) {
    case SimKind::cosine:
      return accumulate_row<SimKind::cosine, Track, T>(rows, cols, i, acc, touched);
    case SimKind::cosine_corated:
    case SimKind::pearson_baseline:
      return accumulate_row<SimKind::cosine_corated, Track, T>(rows, cols, i, acc, touched);
    case SimKind::pearson:
      return accumulate_row<SimKind::pearson, Track, T>(rows, cols, i, acc, touched);
    case SimKind::msd:
      return accumulate_row<SimKind::msd, Track, T>(rows, cols, i, acc, touched);
    case SimKind::jaccard:
      return accumulate_row<SimKind::jaccard, Track, T>(rows, cols, i, acc, touched);
  }
}

}  // namespace

template <class T>
SimilarityRow<T>::SimilarityRow(const CsrView& rows, const CsrView& cols, const double* norms, const SimOptions& opt)
    : rows_(rows),
      cols_(cols),
      norms_(norms),
      opt_(opt),
      n_(rows.n_rows),
      plain_cosine_(opt.kind == SimKind::cosine && opt.shrink == 0.0 && opt.min_support <= 1),
      stride_(plain_cosine_ ? 1 : stride_of(opt.kind)),
      min_support_(opt.kind == SimKind::pearson_baseline ? std::max(2, opt.min_support) : opt.min_support) {
  acc_.assign(static_cast<size_t>(n_) * stride_, T(0));
  if (opt.kind == SimKind::cosine) {
    inv_norm_.resize(static_cast<size_t>(n_));
    for (int64_t j = 0; j < n_; ++j) inv_norm_[j] = norms_[j] > 0.0 ? 1.0 / norms_[j] : 0.0;
  }
  touched_.reserve(std::min<size_t>(static_cast<size_t>(n_), 1024));
}

template <class T>
void SimilarityRow<T>::accumulate(int64_t i) {
  // Work of this row = number of (column entry) visits; each can touch at most one new row.
  // When it is large compared with n_rows, scanning all rows afterwards is cheaper than keeping
  // a touched list (no branch in the inner loop).
  int64_t work = 0;
  for (int64_t p = rows_.begin(i); p < rows_.end(i); ++p) work += cols_.row_nnz(rows_.indices[p]);
  dense_ = work >= n_ / 2;
  if (plain_cosine_) {
    if (dense_) {
      accumulate_plain_cosine<false>(rows_, cols_, i, acc_.data(), touched_);
    } else {
      accumulate_plain_cosine<true>(rows_, cols_, i, acc_.data(), touched_);
    }
  } else if (dense_) {
    accumulate_any<false>(opt_.kind, rows_, cols_, i, acc_.data(), touched_);
  } else {
    accumulate_any<true>(opt_.kind, rows_, cols_, i, acc_.data(), touched_);
  }
}

template class SimilarityRow<float>;
template class SimilarityRow<double>;

namespace {

template <class T>
void topk_impl(const CsrView& rows, const CsrView& cols, const double* norms, const SimOptions& opt,
               const int32_t* query_rows, int64_t n_query, int k, const uint8_t* allowed, int32_t* out_idx,
               float* out_sim, int32_t* out_count, int n_threads) {
  struct Scratch {
    SimilarityRow<T> sim;
    std::vector<std::pair<float, int32_t>> cand;
  };
  // a ranks before b: larger similarity, then lower index
  auto better = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  parallel_for(
      n_query, n_threads, 16, [&] { return Scratch{SimilarityRow<T>(rows, cols, norms, opt), {}}; },
      [&](int64_t q, Scratch& s) {
        const int64_t i = query_rows ? query_rows[q] : q;
        s.cand.clear();
        // Selection in O(candidates) rather than a heap: collect, and whenever 4k candidates have
        // piled up keep the best k (nth_element); later candidates below the k-th best are skipped.
        const size_t cap = static_cast<size_t>(k) * 4 + 64;
        std::pair<float, int32_t> kth{-std::numeric_limits<float>::infinity(), -1};
        s.sim.for_each(i, [&](int32_t j, double v) {
          if (allowed && !allowed[j]) return;
          const std::pair<float, int32_t> c{static_cast<float>(v), j};
          if (!better(c, kth)) return;
          s.cand.push_back(c);
          if (s.cand.size() >= cap) {
            std::nth_element(s.cand.begin(), s.cand.begin() + (k - 1), s.cand.end(), better);
            kth = s.cand[k - 1];
            s.cand.resize(static_cast<size_t>(k));
          }
        });
        if (static_cast<int64_t>(s.cand.size()) > k) {
          std::nth_element(s.cand.begin(), s.cand.begin() + k, s.cand.end(), better);
          s.cand.resize(static_cast<size_t>(k));
        }
        // Canonical CSR order: by neighbour index.
        std::sort(s.cand.begin(), s.cand.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
        const int count = static_cast<int>(s.cand.size());
        int32_t* idx = out_idx + q * k;
        float* val = out_sim + q * k;
        for (int j = 0; j < count; ++j) {
          idx[j] = s.cand[j].second;
          val[j] = s.cand[j].first;
        }
        out_count[q] = count;
      });
}

}  // namespace

void topk_similarity(const CsrView& rows, const CsrView& cols, const double* norms, const SimOptions& opt,
                     const int32_t* query_rows, int64_t n_query, int k, const uint8_t* allowed, int32_t* out_idx,
                     float* out_sim, int32_t* out_count, int n_threads) {
  with_accumulator(opt, [&](auto zero) {
    topk_impl<decltype(zero)>(rows, cols, norms, opt, query_rows, n_query, k, allowed, out_idx, out_sim, out_count,
                              n_threads);
  });
}

bool float_is_exact(const CsrView& rows) {
  double max_abs = 0.0;
  int64_t max_row = 0;
  for (int64_t r = 0; r < rows.n_rows; ++r) max_row = std::max(max_row, rows.row_nnz(r));
  if (rows.data) {
    for (int64_t p = 0; p < rows.nnz(); ++p) {
      const double v = rows.data[p];
      if (v != std::floor(v)) return false;
      max_abs = std::max(max_abs, std::fabs(v));
    }
  } else {
    max_abs = 1.0;
  }
  return max_abs * max_abs * static_cast<double>(max_row) < 16777216.0;  // 2^24
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
