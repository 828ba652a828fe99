// Non-owning views of the arrays Python hands to the kernels.
#pragma once
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace crossrec {

// A CSR matrix as three borrowed arrays. `data` may be null for binary matrices.
struct CsrView {
  const int64_t* indptr = nullptr;
  const int32_t* indices = nullptr;
  const float* data = nullptr;
  int64_t n_rows = 0;
  int64_t n_cols = 0;

  int64_t nnz() const { return n_rows ? indptr[n_rows] : 0; }
  int64_t begin(int64_t row) const { return indptr[row]; }
  int64_t end(int64_t row) const { return indptr[row + 1]; }
  int64_t row_nnz(int64_t row) const { return indptr[row + 1] - indptr[row]; }
  float value(int64_t pos) const { return data ? data[pos] : 1.0f; }
};

// A dense row-major float32 matrix.
struct DenseView {
  const float* data = nullptr;
  int64_t n_rows = 0;
  int64_t n_cols = 0;
  const float* row(int64_t i) const { return data + i * n_cols; }
};

// O(nnz) structural checks; throws std::invalid_argument naming `name`.
// Kernels may assume a CsrView that passed this.
inline void validate_csr(const CsrView& m, const std::string& name, bool finite_data = true) {
  if (m.indptr[0] != 0) throw std::invalid_argument(name + ": indptr[0] must be 0");
  for (int64_t r = 0; r < m.n_rows; ++r) {
    if (m.indptr[r + 1] < m.indptr[r])
      throw std::invalid_argument(name + ": indptr is not non-decreasing at row " + std::to_string(r));
  }
  const int64_t nnz = m.indptr[m.n_rows];
  for (int64_t p = 0; p < nnz; ++p) {
    const int32_t c = m.indices[p];
    if (c < 0 || c >= m.n_cols)
      throw std::invalid_argument(name + ": column index " + std::to_string(c) + " out of range [0, " +
                                  std::to_string(m.n_cols) + ")");
  }
  if (finite_data && m.data) {
    for (int64_t p = 0; p < nnz; ++p) {
      const float v = m.data[p];
      if (!std::isfinite(v))
        throw std::invalid_argument(name + ": data holds a NaN or infinite value at position " + std::to_string(p));
    }
  }
}

// Strictly increasing column indices within each row (sorted, no duplicates): what scipy calls
// canonical format. Kernels that binary-search a row or whose result counts an entry per stored
// position (ALS, BPR, KNN, distillation) need it; a stale has_canonical_format=True flag in scipy
// does not make it true, so the bindings check it, O(nnz).
inline void validate_sorted_unique(const CsrView& m, const std::string& name) {
  for (int64_t r = 0; r < m.n_rows; ++r) {
    for (int64_t p = m.begin(r) + 1; p < m.end(r); ++p) {
      if (m.indices[p] <= m.indices[p - 1])
        throw std::invalid_argument(name + ": column indices of row " + std::to_string(r) +
                                    " are not sorted and unique (not strictly increasing; call "
                                    "sum_duplicates() and sort_indices() on the scipy matrix)");
    }
  }
}

// Checks that every value of an index array is in [0, bound).
inline void validate_indices(const int32_t* idx, int64_t n, int64_t bound, const std::string& name) {
  for (int64_t i = 0; i < n; ++i) {
    if (idx[i] < 0 || idx[i] >= bound)
      throw std::invalid_argument(name + ": index " + std::to_string(idx[i]) + " out of range [0, " +
                                  std::to_string(bound) + ")");
  }
}

inline void validate_finite(const float* x, int64_t n, const std::string& name) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i]))
      throw std::invalid_argument(name + ": holds a NaN or infinite value at position " + std::to_string(i));
  }
}

}  // namespace crossrec
