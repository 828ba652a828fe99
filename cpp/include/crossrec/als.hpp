// Alternating least squares: one half-sweep (all rows of X for fixed Y) per call.
//
// Implicit feedback (Hu, Koren, Volinsky 2008): for a stored raw weight r_ui the confidence is
// c_ui = 1 + alpha * |r_ui| and the preference p_ui = 1 if r_ui > 0 else 0 (a negative weight is a
// confident dislike, as in implicit); unstored entries have c = 1, p = 0. Row u minimises
//   sum_i c_ui (p_ui - x_u . y_i)^2 + reg ||x_u||^2 + w_u ||x_u - t_u||^2
// whose normal equations are (Y^T Y + sum_obs (c_ui - 1) y_i y_i^T + (reg + w_u) I) x_u
//   = sum_obs c_ui p_ui y_i + w_u t_u.
// Explicit ratings (ALS-WR, Zhou et al. 2008, with optional per-entry weights v_ui): row u minimises
//   sum_obs v_ui (r_ui - x_u . y_i)^2 + reg_u ||x_u||^2 + w_u ||x_u - t_u||^2,
// reg_u = reg * sum_obs v_ui ("weighted lambda") or reg.
// (w_u, t_u) is the optional prior: the hook transfer learning uses to pull toward given values.
#pragma once
#include <cstdint>

#include "crossrec/csr.hpp"

namespace crossrec {

// Optional per-row pull toward a target row (both null = no prior).
struct RowPrior {
  const float* target = nullptr;  // n_rows x f, row-major
  const float* weight = nullptr;  // n_rows, >= 0
};

enum class AlsSolver { kConjugateGradient, kCholesky };

struct ImplicitAlsParams {
  float regularization = 0.01f;
  float alpha = 1.0f;
  AlsSolver solver = AlsSolver::kConjugateGradient;
  int cg_steps = 3;
  // CG only: solve rows exactly when that is cheaper than the CG steps (short rows without prior),
  // through the Woodbury identity on a shared inverse (G + reg I)^-1. Exact is never worse than
  // a few CG steps, and on long-tailed data (most items have few users) it is several times faster.
  bool exact_short_rows = true;
};

struct ExplicitAlsParams {
  float regularization = 0.1f;
  bool weighted_lambda = true;
};

// out (f x f, row-major, full) = Y^T Y. Rows are summed in fixed blocks and the block sums added
// in block order, so the result does not depend on the thread count.
void gram_matrix(const DenseView& Y, float* out, int n_threads);

// Updates every row of X (ratings.n_rows x f) in place. gram: Y^T Y (plus any extra terms the
// caller wants in every row's system), f x f. CG is warm-started from the current X (Takacs et
// al. 2011). Rows without interactions and without prior get exactly 0 (the closed form).
// Returns the number of rows whose Cholesky system was not positive definite; those keep X.
int64_t als_implicit_step(const CsrView& ratings, const DenseView& Y, const float* gram,
                          const ImplicitAlsParams& params, const RowPrior& prior, float* X, int n_threads);

// Exact (Cholesky) explicit update of every row of X. weights: optional, one per stored entry.
// Returns the number of rows whose system was not positive definite; those keep X.
int64_t als_explicit_step(const CsrView& ratings, const float* weights, const DenseView& Y,
                          const ExplicitAlsParams& params, const RowPrior& prior, float* X, int n_threads);

}  // namespace crossrec
