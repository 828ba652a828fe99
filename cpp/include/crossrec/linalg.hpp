// Small dense solvers for the per-row systems of ALS (f <= a few hundred, no BLAS needed).
#pragma once
#include <cmath>
#include <cstdint>

namespace crossrec {

// In-place Cholesky factorisation A = L L^T of a symmetric (n x n, row-major, full storage)
// matrix, then solves A x = b, overwriting b with x. Double precision: the normal equations of
// ALS square the condition number, and float loses digits the tests (and users) can see.
// Returns false, leaving b unspecified, when A is not (numerically) positive definite.
inline bool cholesky_solve(double* A, double* b, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double* Aj = A + j * n;
    double d = Aj[j];
    for (int64_t k = 0; k < j; ++k) d -= Aj[k] * Aj[k];
    if (!(d > 0.0) || !std::isfinite(d)) return false;
    const double ljj = std::sqrt(d);
    Aj[j] = ljj;
    const double inv = 1.0 / ljj;
    // Row-oriented: L[i][j] = (A[i][j] - dot(L[i][:j], L[j][:j])) / L[j][j]; the dot vectorises.
    for (int64_t i = j + 1; i < n; ++i) {
      double* Ai = A + i * n;
      double s = Ai[j];
#pragma omp simd reduction(- : s)
      for (int64_t k = 0; k < j; ++k) s -= Ai[k] * Aj[k];
      Ai[j] = s * inv;
    }
  }
  // Forward substitution L y = b, then back substitution L^T x = y.
  for (int64_t i = 0; i < n; ++i) {
    const double* Ai = A + i * n;
    double s = b[i];
#pragma omp simd reduction(- : s)
    for (int64_t k = 0; k < i; ++k) s -= Ai[k] * b[k];
    b[i] = s / Ai[i];
  }
  for (int64_t i = n - 1; i >= 0; --i) {
    double s = b[i];
    for (int64_t k = i + 1; k < n; ++k) s -= A[k * n + i] * b[k];
    b[i] = s / A[i * n + i];
  }
  return true;
}

}  // namespace crossrec
