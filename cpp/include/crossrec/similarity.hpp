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
};

// Per-thread scratch computing the similarities of one row with all rows that share a column.
// `rows` is the matrix, `cols` its transpose (same values). `norms` (length n_rows, only for
// cosine) holds the full-row L2 norms.
class SimilarityRow {
 public:
  SimilarityRow(const CsrView& rows, const CsrView& cols, const double* norms, const SimOptions& opt);

  // Computes row i against every row sharing a column; then visit(j, sim) is called for each row
  // j != i with a non-zero similarity (in no particular order) and the scratch is reset.
  template <class Visit>
  void for_each(int64_t i, Visit&& visit) {
    accumulate(i);
    if (dense_) {
      for (int64_t j = 0; j < n_; ++j) {
        if (acc_[j * stride_] != 0.0) emit(i, j, visit);
      }
    } else {
      for (int32_t j : touched_) emit(i, j, visit);
    }
    touched_.clear();
  }

 private:
  void accumulate(int64_t i);
  double finish(int64_t i, const double* a) const;

  template <class Visit>
  void emit(int64_t i, int64_t j, Visit& visit) {
    double* a = acc_.data() + j * stride_;
    if (j != i) {
      const double s = finish(i, a);
      if (s != 0.0) visit(static_cast<int32_t>(j), s);
    }
    for (int t = 0; t < stride_; ++t) a[t] = 0.0;
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
  int stride_ = 1;
  std::vector<double> acc_;
  std::vector<int32_t> touched_;
};

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
