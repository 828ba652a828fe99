// Exact per-row solves of implicit ALS for short rows, sharing one inverse (Woodbury identity).
// Internal to als.cpp; a header of its own because it is one self-contained idea.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "crossrec/csr.hpp"
#include "crossrec/dense.hpp"
#include "crossrec/linalg.hpp"
#include "crossrec/parallel.hpp"

namespace crossrec {

// Exact solves of short rows without prior (Woodbury). With M = (G + reg I)^-1 shared by all
// rows and z_i = M y_i precomputed, row u's system (G + reg I + sum_k (c_k - 1) y_k y_k^T) x = b
// costs O(n^2 f + n^3) instead of O(f^2) per CG step:
//   x = M b - Z_u^T S^-1 (Y_u M b),  S = diag(1 / (c_k - 1)) + Y_u Z_u^T  (n x n, SPD).
class ShortRowSolver {
 public:
  // Precomputes M and Z = Y M in double; false when G + reg I is not positive definite.
  bool prepare(const DenseView& Y, const float* G, float reg, int n_threads) {
    const int64_t f = Y.n_cols;
    f_ = f;
    M_.assign(static_cast<size_t>(f * f), 0.0);
    std::vector<double> A(static_cast<size_t>(f * f)), col(static_cast<size_t>(f));
    for (int64_t k = 0; k < f * f; ++k) A[k] = G[k];
    for (int64_t k = 0; k < f; ++k) A[k * f + k] += reg;
    if (!cholesky_factor(A.data(), f)) return false;
    for (int64_t j = 0; j < f; ++j) {  // M column by column from the one factorisation
      std::fill(col.begin(), col.end(), 0.0);
      col[j] = 1.0;
      cholesky_substitute(A.data(), col.data(), f);
      for (int64_t k = 0; k < f; ++k) M_[k * f + j] = col[k];
    }
    Z_.assign(static_cast<size_t>(Y.n_rows * f), 0.0);
    parallel_for(Y.n_rows, n_threads, 256, [&](int64_t i) { z_row(Y.row(i), Z_.data() + i * f); });
    return true;
  }

  const double* z(int64_t i) const { return Z_.data() + i * f_; }

  struct Scratch {
    std::vector<double> mb, S, v;
    std::vector<int64_t> pos;
  };

  // Solves row u into x; false (x untouched) when S is not positive definite.
  bool solve(const CsrView& m, int64_t u, const DenseView& Y, float alpha, float* x, Scratch& s) const {
    const int64_t f = f_;
    s.mb.assign(static_cast<size_t>(f), 0.0);
    s.pos.clear();
    for (int64_t q = m.begin(u); q < m.end(u); ++q) {
      const float raw = m.value(q);
      const double c = 1.0 + static_cast<double>(alpha) * std::fabs(raw);
      if (raw > 0.0f) axpy_d(c, z(m.indices[q]), s.mb.data(), f);
      if (c != 1.0) s.pos.push_back(q);
    }
    const int64_t n = static_cast<int64_t>(s.pos.size());
    s.S.assign(static_cast<size_t>(n * n), 0.0);
    s.v.assign(static_cast<size_t>(n), 0.0);
    for (int64_t a = 0; a < n; ++a) {
      const float* ya = Y.row(m.indices[s.pos[a]]);
      s.v[a] = dot_fd(ya, s.mb.data(), f);
      for (int64_t b = 0; b <= a; ++b) {
        const double g = dot_fd(ya, z(m.indices[s.pos[b]]), f);
        s.S[a * n + b] = s.S[b * n + a] = g;
      }
      s.S[a * n + a] += 1.0 / (static_cast<double>(alpha) * std::fabs(m.value(s.pos[a])));
    }
    if (n > 0 && !cholesky_solve(s.S.data(), s.v.data(), n)) return false;
    for (int64_t a = 0; a < n; ++a) axpy_d(-s.v[a], z(m.indices[s.pos[a]]), s.mb.data(), f);
    for (int64_t k = 0; k < f; ++k) x[k] = static_cast<float>(s.mb[k]);
    return true;
  }

 private:
  CROSSREC_TARGET_CLONES
  void z_row(const float* y, double* out) const {
    for (int64_t j = 0; j < f_; ++j) {  // M is symmetric: z = M y = sum_j y_j M[j]
      const double a = y[j];
      const double* Mj = M_.data() + j * f_;
#pragma omp simd
      for (int64_t k = 0; k < f_; ++k) out[k] += a * Mj[k];
    }
  }
  static void axpy_d(double a, const double* x, double* y, int64_t f) {
#pragma omp simd
    for (int64_t k = 0; k < f; ++k) y[k] += a * x[k];
  }
  static double dot_fd(const float* a, const double* b, int64_t f) {
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t k = 0; k < f; ++k) s += a[k] * b[k];
    return s;
  }

  int64_t f_ = 0;
  std::vector<double> M_, Z_;
};

}  // namespace crossrec
