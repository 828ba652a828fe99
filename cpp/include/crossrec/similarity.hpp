// Sparse similarities between the rows of a CSR matrix, and the top-k neighbours of each row.
//
// For row i the kernel walks its entries (i, c, v) and, through the transposed matrix, every row j
// holding column c: the classic row-by-row sparse product S[i, :] = X[i, :] X^T with a dense
// accumulator per thread. Only rows sharing a column with i are touched, so the cost is
// sum_c |column c|^2 and the memory per thread is O(n_rows); the output keeps k neighbours per
// row, O(n_rows * k), never n_rows x n_rows.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "crossrec/csr.hpp"

namespace crossrec {

// Definitions (x, y two rows; I = the columns both hold, n = |I|):
//   cosine            sum_I x y / (||x|| ||y||), norms over the FULL rows (implicit's item-item cosine)
//   cosine_corated    sum_I x y / sqrt(sum_I x^2 * sum_I y^2)  (Surprise's "cosine")
//   pearson           (n sum xy - sum x sum y) / sqrt((n sum x^2 - (sum x)^2)(n sum y^2 - (sum y)^2)),
//                     sums over I, i.e. centred by each row's mean over I (Surprise's "pearson")
//   pearson_baseline  cosine_corated of baseline residuals (the caller passes them), shrunk by
//                     (n - 1) / (n - 1 + shrink) and needing n >= 2 (Surprise's "pearson_baseline")
//   msd               1 / (sum_I (x - y)^2 / n + 1)  (Surprise's "msd")
//   jaccard           n / (|x| + |y| - n) on the sparsity pattern
// Every kind but pearson_baseline is multiplied by n / (n + shrink) when shrink > 0.
// A pair with n < min_support, or an undefined value (a zero denominator), has similarity 0.
enum class SimKind : int { cosine = 0, cosine_corated = 1, pearson = 2, pearson_baseline = 3, msd = 4, jaccard = 5 };

struct SimOptions {
  SimKind kind = SimKind::cosine;
  double shrink = 0.0;
  int min_support = 1;
  // Accumulate in float (half the scratch, faster) instead of double; see float_is_exact().
  bool float_accumulators = false;
};

// True when float sums of this matrix's co-rated statistics are exact, so float accumulators give
// bit-identical similarities to double ones: every value is an integer, and the largest possible
// sum (max |v|^2 times the longest row) stays below 2^24.
bool float_is_exact(const CsrView& rows);

// The accumulator choice: float only when it is exact (then the results are bit-identical to
// double accumulation); double otherwise. (Measured: for plain cosine on ML-100K / Last.fm float
// is not faster, so it gets no exception.)
inline bool use_float_accumulators(const CsrView& rows, const SimOptions& /*opt*/) { return float_is_exact(rows); }

// Per-thread scratch computing the similarities of one row with all rows that share a column.
// `rows` is the matrix, `cols` its transpose (same values). `norms` (length n_rows, only for
// cosine) holds the full-row L2 norms. T is the accumulator type: float halves the scratch (it
// then stays in L1 for a few thousand rows); it is used only where it loses nothing (see
// use_float_accumulators).
template <class T>
class SimilarityRow {
 public:
  SimilarityRow(const CsrView& rows, const CsrView& cols, const double* norms, const SimOptions& opt);

  // Computes row i against every row sharing a column; then visit(j, sim) is called for each row
  // j != i with a non-zero similarity (in no particular order) and the scratch is reset.
  template <class Visit>
  void for_each(int64_t i, Visit&& visit) {
    accumulate(i);
    if (dense_) {
      // Branch-free compaction of the touched rows: the "touched?" branch would mispredict
      // about half the time on a dense row.
      touched_.resize(static_cast<size_t>(n_));
      int64_t m = 0;
      for (int64_t j = 0; j < n_; ++j) {
        touched_[m] = static_cast<int32_t>(j);
        m += acc_[j * stride_] != T(0);
      }
      touched_.resize(static_cast<size_t>(m));
    }
    // One loop per kind, so that finishing a pair is a few inlined instructions.
    if (plain_cosine_) return emit_all<SimKind::cosine, true>(i, visit);
    switch (opt_.kind) {
      case SimKind::cosine:
        return emit_all<SimKind::cosine, false>(i, visit);
      case SimKind::cosine_corated:
        return emit_all<SimKind::cosine_corated, false>(i, visit);
      case SimKind::pearson:
        return emit_all<SimKind::pearson, false>(i, visit);
      case SimKind::pearson_baseline:
        return emit_all<SimKind::pearson_baseline, false>(i, visit);
      case SimKind::msd:
        return emit_all<SimKind::msd, false>(i, visit);
      case SimKind::jaccard:
        return emit_all<SimKind::jaccard, false>(i, visit);
    }
  }

 private:
  void accumulate(int64_t i);

  // Sums per row j (see acc_): Plain = plain cosine's single sum.
  template <SimKind K, bool Plain>
  static constexpr int stride() {
    if constexpr (Plain || K == SimKind::jaccard) return 1;
    if constexpr (K == SimKind::cosine || K == SimKind::msd) return 2;
    if constexpr (K == SimKind::pearson) return 6;
    return 4;
  }

  // Similarity of rows i and j from their sums (definitions above SimKind), in double whatever T.
  template <SimKind K, bool Plain>
  double finish(int64_t i, int64_t j, const T* acc) const {
    if constexpr (Plain) {
      return acc[0] * inv_norm_[i] * inv_norm_[j];
    } else {
      const double n = acc[0];
      if (n < min_support_) return 0.0;
      double s = 0.0;
      if constexpr (K == SimKind::cosine) {
        s = static_cast<double>(acc[1]) * inv_norm_[i] * inv_norm_[j];
      } else if constexpr (K == SimKind::cosine_corated || K == SimKind::pearson_baseline) {
        const double xy = acc[1], xx = acc[2], yy = acc[3];
        const double d = std::sqrt(xx * yy);
        s = d > 0.0 ? xy / d : 0.0;
      } else if constexpr (K == SimKind::pearson) {
        // Surprise's formula, term for term, so that integer ratings give bit-identical values.
        const double xy = acc[1], xx = acc[2], yy = acc[3], x = acc[4], y = acc[5];
        const double num = n * xy - x * y;
        const double d = std::sqrt((n * xx - x * x) * (n * yy - y * y));
        s = d > 0.0 ? num / d : 0.0;
      } else if constexpr (K == SimKind::msd) {
        s = 1.0 / (static_cast<double>(acc[1]) / n + 1.0);
      } else {
        s = n / static_cast<double>(rows_.row_nnz(i) + rows_.row_nnz(j) - static_cast<int64_t>(n));
      }
      if (opt_.shrink > 0.0) {
        s *= K == SimKind::pearson_baseline ? (n - 1.0) / (n - 1.0 + opt_.shrink) : n / (n + opt_.shrink);
      }
      return s;
    }
  }

  template <SimKind K, bool Plain, class Visit>
  void emit_all(int64_t i, Visit& visit) {
    constexpr int S = stride<K, Plain>();
    for (int32_t j : touched_) {
      T* a = acc_.data() + static_cast<int64_t>(j) * S;
      if (j != i) {
        const double s = finish<K, Plain>(i, j, a);
        if (s != 0.0) visit(j, s);
      }
      for (int t = 0; t < S; ++t) a[t] = T(0);
    }
    touched_.clear();
  }

  const CsrView& rows_;
  const CsrView& cols_;
  const double* norms_;
  SimOptions opt_;
  int64_t n_;
  bool dense_ = false;  // this row touches many rows: scan all instead of keeping a touched list
  // Co-rated sums per other row j, interleaved so that one update touches one cache line:
  // acc_[j * stride_ + 0] = n (co-rated count), then the sums the kind needs, in this order:
  // cosine {xy}, cosine_corated/pearson_baseline {xy, xx, yy}, pearson {xy, xx, yy, x, y},
  // msd {(x - y)^2}, jaccard {}.
  // Plain cosine (no shrink, no min_support) needs no count: acc_[j] = sum xy alone, and a row
  // whose sum is exactly 0 has similarity 0 anyway, so the sum doubles as the touched mark.
  bool plain_cosine_ = false;
  int stride_ = 1;
  int min_support_ = 1;  // pearson_baseline needs at least 2
  std::vector<T> acc_;
  std::vector<double> inv_norm_;  // cosine: 1 / ||row|| (0 for empty rows), a multiply instead of a divide
  std::vector<int32_t> touched_;
};

extern template class SimilarityRow<float>;
extern template class SimilarityRow<double>;

// Calls f(T{}) with the accumulator type chosen in opt.
template <class F>
decltype(auto) with_accumulator(const SimOptions& opt, F&& f) {
  if (opt.float_accumulators) return f(float{});
  return f(double{});
}

// Top-k neighbours (largest similarity; ties to the lower row index) of each query row.
// query_rows: the rows to compute (nullptr = all rows, n_query = n_rows). Outputs are padded
// n_query x k buffers: out_idx[q*k + j] / out_sim[q*k + j] for j < out_count[q], sorted by
// neighbour index. Only non-zero similarities are kept; a row is never its own neighbour.
// allowed: nullptr, or one flag per row; rows flagged 0 are never neighbours (e.g. users with no
// data in the domain to predict), so the k slots go to rows that can contribute.
void topk_similarity(const CsrView& rows, const CsrView& cols, const double* norms, const SimOptions& opt,
                     const int32_t* query_rows, int64_t n_query, int k, const uint8_t* allowed, int32_t* out_idx,
                     float* out_sim, int32_t* out_count, int n_threads);

// L2 norm of every row (double), for SimKind::cosine.
std::vector<double> row_norms(const CsrView& rows);

// The transpose of a CSR matrix (counting sort; indices of every output row come out sorted).
struct CsrOwned {
  std::vector<int64_t> indptr;
  std::vector<int32_t> indices;
  std::vector<float> data;
  CsrView view(int64_t n_rows, int64_t n_cols) const {
    return CsrView{indptr.data(), indices.data(), data.empty() ? nullptr : data.data(), n_rows, n_cols};
  }
};
CsrOwned transpose(const CsrView& m);

}  // namespace crossrec
