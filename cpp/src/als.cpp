#include "crossrec/als.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "crossrec/dense.hpp"
#include "crossrec/linalg.hpp"
#include "crossrec/parallel.hpp"

namespace crossrec {
namespace {

// Waking a thread team costs tens of microseconds on an idle machine and milliseconds on a busy
// one, so small problems run on one thread (results do not depend on the thread count anyway).
int threads_for(int n_threads, double flops) {
  constexpr double kFlopsPerThread = 4e6;
  const int cap = static_cast<int>(std::min(1024.0, std::max(1.0, flops / kFlopsPerThread)));
  return std::min(resolve_threads(n_threads), cap);
}

// Rows of Y summed into one partial Gram matrix: fixed size, so block sums (and their order)
// do not depend on the thread count.
constexpr int64_t kGramBlock = 512;

CROSSREC_TARGET_CLONES
void gram_block(const DenseView& Y, int64_t r0, int64_t r1, float* acc) {
  const int64_t f = Y.n_cols;
  for (int64_t r = r0; r < r1; ++r) {
    const float* y = Y.row(r);
    for (int64_t j = 0; j < f; ++j) {
      const float a = y[j];
      float* row = acc + j * f;
#pragma omp simd
      for (int64_t k = 0; k < f; ++k) row[k] += a * y[k];
    }
  }
}

// out = G v for a symmetric f x f matrix G.
inline void symv(const float* G, const float* v, float* out, int64_t f) {
  for (int64_t j = 0; j < f; ++j) out[j] = dot(G + j * f, v, f);
}

struct Row {
  float lambda;         // reg + prior weight: the ridge of this row
  float prior_weight;   // w_u (0 without prior)
  const float* target;  // t_u or null
};

Row row_terms(const RowPrior& prior, int64_t u, int64_t f, float reg) {
  Row r{reg, 0.0f, nullptr};
  if (prior.weight && prior.weight[u] > 0.0f) {
    r.prior_weight = prior.weight[u];
    r.target = prior.target + u * f;
    r.lambda += r.prior_weight;
  }
  return r;
}

struct CgScratch {
  std::vector<float> r, p, ap;
};

// A few conjugate-gradient steps on row u's normal equations, warm-started from x (Takacs et al.).
// A v = G v + lambda v + sum_obs (c - 1)(y . v) y is applied without forming A: O(f^2 + nnz_u f).
CROSSREC_TARGET_CLONES
void cg_row(const CsrView& m, int64_t u, const DenseView& Y, const float* G, const Row& row, float alpha,
            int steps, float* x, CgScratch& s) {
  const int64_t f = Y.n_cols;
  float* r = s.r.data();
  float* p = s.p.data();
  float* ap = s.ap.data();
  // r = b - A x
  symv(G, x, r, f);
  for (int64_t k = 0; k < f; ++k) r[k] = -r[k] - row.lambda * x[k];
  if (row.target) axpy(row.prior_weight, row.target, r, f);
  for (int64_t q = m.begin(u); q < m.end(u); ++q) {
    const float* y = Y.row(m.indices[q]);
    const float raw = m.value(q);
    const float c = 1.0f + alpha * std::fabs(raw);
    const float pc = raw > 0.0f ? c : 0.0f;
    axpy(pc - (c - 1.0f) * dot(y, x, f), y, r, f);
  }
  std::memcpy(p, r, sizeof(float) * f);
  float rs_old = dot(r, r, f);
  for (int it = 0; it < steps; ++it) {
    if (rs_old < 1e-20f) break;  // already solved: avoid 0/0
    symv(G, p, ap, f);
    axpy(row.lambda, p, ap, f);
    for (int64_t q = m.begin(u); q < m.end(u); ++q) {
      const float* y = Y.row(m.indices[q]);
      const float c = 1.0f + alpha * std::fabs(m.value(q));
      axpy((c - 1.0f) * dot(y, p, f), y, ap, f);
    }
    const float pap = dot(p, ap, f);
    if (!(pap > 0.0f)) break;  // p is numerically 0 (or A not PD): stop, keep x
    const float step = rs_old / pap;
    axpy(step, p, x, f);
    axpy(-step, ap, r, f);
    const float rs_new = dot(r, r, f);
    const float beta = rs_new / rs_old;
    for (int64_t k = 0; k < f; ++k) p[k] = r[k] + beta * p[k];
    rs_old = rs_new;
  }
}

struct CholScratch {
  std::vector<double> A, b;
};

// A += weight * y y^T (full storage), in double.
CROSSREC_TARGET_CLONES
void rank1(double* A, const float* y, double weight, int64_t f) {
  for (int64_t j = 0; j < f; ++j) {
    const double a = weight * y[j];
    double* Aj = A + j * f;
#pragma omp simd
    for (int64_t k = 0; k < f; ++k) Aj[k] += a * y[k];
  }
}

// Solves A x = b (A, b already hold the system); writes x on success.
bool finish_cholesky(CholScratch& s, const Row& row, int64_t f, float* x) {
  for (int64_t k = 0; k < f; ++k) s.A[k * f + k] += row.lambda;
  if (row.target)
    for (int64_t k = 0; k < f; ++k) s.b[k] += static_cast<double>(row.prior_weight) * row.target[k];
  if (!cholesky_solve(s.A.data(), s.b.data(), f)) return false;
  for (int64_t k = 0; k < f; ++k) x[k] = static_cast<float>(s.b[k]);
  return true;
}

}  // namespace

void gram_matrix(const DenseView& Y, float* out, int n_threads) {
  const int64_t f = Y.n_cols;
  const int64_t n_blocks = (Y.n_rows + kGramBlock - 1) / kGramBlock;
  std::vector<float> partial(static_cast<size_t>(n_blocks * f * f), 0.0f);
  parallel_for(n_blocks, threads_for(n_threads, double(Y.n_rows) * f * f), 1, [&](int64_t b) {
    gram_block(Y, b * kGramBlock, std::min(Y.n_rows, (b + 1) * kGramBlock), partial.data() + b * f * f);
  });
  std::vector<double> sum(static_cast<size_t>(f * f), 0.0);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const float* pb = partial.data() + b * f * f;
    for (int64_t k = 0; k < f * f; ++k) sum[k] += pb[k];
  }
  for (int64_t k = 0; k < f * f; ++k) out[k] = static_cast<float>(sum[k]);
}

int64_t als_implicit_step(const CsrView& m, const DenseView& Y, const float* G, const ImplicitAlsParams& params,
                          const RowPrior& prior, float* X, int n_threads) {
  const int64_t f = Y.n_cols;
  std::vector<char> failed(static_cast<size_t>(m.n_rows), 0);
  const double per_pass = double(m.n_rows) * f * f + double(m.nnz()) * f * 4;
  n_threads = threads_for(n_threads, per_pass * (params.solver == AlsSolver::kCholesky ? f / 3.0 : params.cg_steps + 1));
  if (params.solver == AlsSolver::kConjugateGradient) {
    parallel_for(
        m.n_rows, n_threads, 8,
        [&] { return CgScratch{std::vector<float>(f), std::vector<float>(f), std::vector<float>(f)}; },
        [&](int64_t u, CgScratch& s) {
          const Row row = row_terms(prior, u, f, params.regularization);
          float* x = X + u * f;
          if (m.row_nnz(u) == 0 && !row.target) {
            std::fill(x, x + f, 0.0f);  // closed form: b = 0
            return;
          }
          cg_row(m, u, Y, G, row, params.alpha, params.cg_steps, x, s);
        });
  } else {
    parallel_for(
        m.n_rows, n_threads, 8,
        [&] { return CholScratch{std::vector<double>(f * f), std::vector<double>(f)}; },
        [&](int64_t u, CholScratch& s) {
          const Row row = row_terms(prior, u, f, params.regularization);
          float* x = X + u * f;
          if (m.row_nnz(u) == 0 && !row.target) {
            std::fill(x, x + f, 0.0f);
            return;
          }
          for (int64_t k = 0; k < f * f; ++k) s.A[k] = G[k];
          std::fill(s.b.begin(), s.b.end(), 0.0);
          for (int64_t q = m.begin(u); q < m.end(u); ++q) {
            const float* y = Y.row(m.indices[q]);
            const float raw = m.value(q);
            const double c = 1.0 + static_cast<double>(params.alpha) * std::fabs(raw);
            if (c != 1.0) rank1(s.A.data(), y, c - 1.0, f);
            if (raw > 0.0f)
              for (int64_t k = 0; k < f; ++k) s.b[k] += c * y[k];
          }
          if (!finish_cholesky(s, row, f, x)) failed[u] = 1;
        });
  }
  int64_t n_failed = 0;
  for (char c : failed) n_failed += c;
  return n_failed;
}

int64_t als_explicit_step(const CsrView& m, const float* weights, const DenseView& Y,
                          const ExplicitAlsParams& params, const RowPrior& prior, float* X, int n_threads) {
  const int64_t f = Y.n_cols;
  std::vector<char> failed(static_cast<size_t>(m.n_rows), 0);
  n_threads = threads_for(n_threads, double(m.n_rows) * f * f * f / 3.0 + double(m.nnz()) * f * f);
  parallel_for(
      m.n_rows, n_threads, 8, [&] { return CholScratch{std::vector<double>(f * f), std::vector<double>(f)}; },
      [&](int64_t u, CholScratch& s) {
        float* x = X + u * f;
        double total_weight = 0.0;
        for (int64_t q = m.begin(u); q < m.end(u); ++q) total_weight += weights ? weights[q] : 1.0f;
        const float reg = params.weighted_lambda ? static_cast<float>(params.regularization * total_weight)
                                                 : params.regularization;
        const Row row = row_terms(prior, u, f, reg);
        if (m.row_nnz(u) == 0 && !row.target) {
          std::fill(x, x + f, 0.0f);
          return;
        }
        std::fill(s.A.begin(), s.A.end(), 0.0);
        std::fill(s.b.begin(), s.b.end(), 0.0);
        for (int64_t q = m.begin(u); q < m.end(u); ++q) {
          const double v = weights ? weights[q] : 1.0;
          if (v == 0.0) continue;
          const float* y = Y.row(m.indices[q]);
          rank1(s.A.data(), y, v, f);
          const double vr = v * m.value(q);
          for (int64_t k = 0; k < f; ++k) s.b[k] += vr * y[k];
        }
        if (!finish_cholesky(s, row, f, x)) failed[u] = 1;
      });
  int64_t n_failed = 0;
  for (char c : failed) n_failed += c;
  return n_failed;
}

}  // namespace crossrec
