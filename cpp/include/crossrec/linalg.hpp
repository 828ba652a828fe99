// Small dense solvers for the per-row systems of ALS (f <= a few hundred, no BLAS needed).
#pragma once
#include <cmath>
#include <cstdint>

namespace crossrec {

// In-place Cholesky factorisation A = L L^T of a symmetric (n x n, row-major, full storage)
// matrix (L in the lower triangle); cholesky_solve then solves A x = b, overwriting b with x. Double precision: the
// normal equations of ALS square the condition number, and float loses digits the tests (and users) can see. They
// return false when A is not (numerically) positive definite.
inline bool cholesky_factor(double* A, int64_t n) {
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
  return true;
}

// Solves L L^T x = b in place, L from cholesky_factor (lower triangle of A).
inline void cholesky_substitute(const double* L, double* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {  // L y = b
    const double* Li = L + i * n;
    double s = b[i];
#pragma omp simd reduction(- : s)
    for (int64_t k = 0; k < i; ++k) s -= Li[k] * b[k];
    b[i] = s / Li[i];
  }
  for (int64_t i = n - 1; i >= 0; --i) {  // L^T x = y
    double s = b[i];
    for (int64_t k = i + 1; k < n; ++k) s -= L[k * n + i] * b[k];
    b[i] = s / L[i * n + i];
  }
}

inline bool cholesky_solve(double* A, double* b, int64_t n) {
  if (!cholesky_factor(A, n)) return false;
  cholesky_substitute(A, b, n);
  return true;
}

}  // namespace crossrec
