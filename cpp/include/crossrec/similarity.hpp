// Sparse similarities between the rows of a CSR matrix, and the top-k neighbours of each row.
//
// For row i the kernel walks its entries (i, c, v) and, through the transposed matrix, every row j
// holding column c: the classic row-by-row sparse product S[i, :] = X[i, :] X^T with a dense
// accumulator per thread. Only rows sharing a column with i are touched, so the cost is
// sum_c |column c|^2 and the memory per thread is O(n_rows); the output keeps k neighbours per
// row, O(n_rows * k), never n_rows x n_rows.
#pragma once
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
    for (int32_t j : touched_) emit(i, j, visit);
    touched_.clear();
  }

 private:
  void accumulate(int64_t i);
  double finish(int64_t i, int64_t j, const T* a) const;

  template <class Visit>
  void emit(int64_t i, int64_t j, Visit& visit) {
    T* a = acc_.data() + j * stride_;
    if (j != i) {
      const double s = finish(i, j, a);
      if (s != 0.0) visit(static_cast<int32_t>(j), s);
    }
    // strides are 1, 2, 4 or 6: spelled out, as a loop here compiles to a memset call per row
    switch (stride_) {
      case 6:
        a[5] = T(0);
        a[4] = T(0);
        [[fallthrough]];
      case 4:
        a[3] = T(0);
        a[2] = T(0);
        [[fallthrough]];
      case 2:
        a[1] = T(0);
        [[fallthrough]];
      default:
        a[0] = T(0);
    }
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
void topk_similarity(const CsrView& rows, const CsrView& cols, const double* norms, const SimOptions& opt,
                     const int32_t* query_rows, int64_t n_query, int k, int32_t* out_idx, float* out_sim,
                     int32_t* out_count, int n_threads);

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
