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

// CG runs kLanes rows in lockstep so that the dominant product G v (f^2 per step) becomes a small
// matrix product that loads each element of G once per kLanes rows instead of once per row.
constexpr int kLanes = 4;
constexpr int kTile = 16;  // output columns kept in registers: kLanes x kTile accumulators

// out[b] = G in[b] for the kLanes rows of `in` (each f floats). Each output is summed over k in
// ascending order whatever the other lanes hold, so a row's result never depends on its lane mates.
CROSSREC_TARGET_CLONES
void lanes_times_gram(const float* in, const float* G, float* out, int64_t f) {
  int64_t j0 = 0;
  for (; j0 + kTile <= f; j0 += kTile) {
    float acc[kLanes][kTile] = {};
    for (int64_t k = 0; k < f; ++k) {
      const float* g = G + k * f + j0;
      for (int b = 0; b < kLanes; ++b) {
        const float v = in[b * f + k];
#pragma omp simd
        for (int jj = 0; jj < kTile; ++jj) acc[b][jj] += v * g[jj];
      }
    }
    for (int b = 0; b < kLanes; ++b)
      for (int jj = 0; jj < kTile; ++jj) out[b * f + j0 + jj] = acc[b][jj];
  }
  for (; j0 < f; ++j0) {  // leftover columns when f is not a multiple of kTile
    for (int b = 0; b < kLanes; ++b) {
      float acc = 0.0f;
      for (int64_t k = 0; k < f; ++k) acc += in[b * f + k] * G[k * f + j0];
      out[b * f + j0] = acc;
    }
  }
}

struct CgScratch {
  explicit CgScratch(int64_t f)
      : x(kLanes * f, 0.0f), r(kLanes * f, 0.0f), p(kLanes * f, 0.0f), ap(kLanes * f, 0.0f) {}
  std::vector<float> x, r, p, ap;
};

// A few conjugate-gradient steps on the normal equations of up to kLanes rows, each warm-started
// from its current x (Takacs et al. 2011), exactly as implicit's least_squares_cg per row:
// A v = G v + lambda v + sum_obs (c - 1)(y . v) y is applied without forming A.
CROSSREC_TARGET_CLONES
void cg_lanes(const CsrView& m, const int64_t* rows, int n_rows, const DenseView& Y, const float* G,
              const RowPrior& prior, float reg, float alpha, int steps, float* X, CgScratch& s) {
  const int64_t f = Y.n_cols;
  Row terms[kLanes];
  bool active[kLanes] = {};
  float rs_old[kLanes] = {};
  std::fill(s.x.begin(), s.x.end(), 0.0f);
  std::fill(s.p.begin(), s.p.end(), 0.0f);
  for (int b = 0; b < n_rows; ++b) {
    terms[b] = row_terms(prior, rows[b], f, reg);
    std::memcpy(s.x.data() + b * f, X + rows[b] * f, sizeof(float) * f);
  }
  lanes_times_gram(s.x.data(), G, s.r.data(), f);
  for (int b = 0; b < n_rows; ++b) {  // r = b - A x
    const int64_t u = rows[b];
    const float* x = s.x.data() + b * f;
    float* r = s.r.data() + b * f;
    for (int64_t k = 0; k < f; ++k) r[k] = -r[k] - terms[b].lambda * x[k];
    if (terms[b].target) axpy(terms[b].prior_weight, terms[b].target, r, f);
    for (int64_t q = m.begin(u); q < m.end(u); ++q) {
      const float* y = Y.row(m.indices[q]);
      const float raw = m.value(q);
      const float c = 1.0f + alpha * std::fabs(raw);
      const float pc = raw > 0.0f ? c : 0.0f;
      axpy(pc - (c - 1.0f) * dot(y, x, f), y, r, f);
    }
    std::memcpy(s.p.data() + b * f, r, sizeof(float) * f);
    rs_old[b] = dot(r, r, f);
    active[b] = !(rs_old[b] < 1e-20f);  // already solved: avoid 0/0
  }
  for (int it = 0; it < steps; ++it) {
    if (std::none_of(active, active + n_rows, [](bool a) { return a; })) break;
    lanes_times_gram(s.p.data(), G, s.ap.data(), f);
    for (int b = 0; b < n_rows; ++b) {
      if (!active[b]) continue;
      const int64_t u = rows[b];
      float* x = s.x.data() + b * f;
      float* r = s.r.data() + b * f;
      float* p = s.p.data() + b * f;
      float* ap = s.ap.data() + b * f;
      axpy(terms[b].lambda, p, ap, f);
      for (int64_t q = m.begin(u); q < m.end(u); ++q) {
        const float* y = Y.row(m.indices[q]);
        const float c = 1.0f + alpha * std::fabs(m.value(q));
        axpy((c - 1.0f) * dot(y, p, f), y, ap, f);
      }
      const float pap = dot(p, ap, f);
      if (!(pap > 0.0f)) {  // p is numerically 0 (or A not PD): stop, keep x
        active[b] = false;
        continue;
      }
      const float step = rs_old[b] / pap;
      axpy(step, p, x, f);
      axpy(-step, ap, r, f);
      const float rs_new = dot(r, r, f);
      const float beta = rs_new / rs_old[b];
      for (int64_t k = 0; k < f; ++k) p[k] = r[k] + beta * p[k];
      rs_old[b] = rs_new;
      active[b] = !(rs_new < 1e-20f);
    }
  }
  for (int b = 0; b < n_rows; ++b) std::memcpy(X + rows[b] * f, s.x.data() + b * f, sizeof(float) * f);
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

// Flop estimates that pick the cheaper exact path per row.
double cg_cost(int64_t n, int64_t f, int steps) { return (steps + 1.0) * (double(f) * f + 4.0 * n * f); }
double woodbury_cost(int64_t n, int64_t f) { return 2.0 * n * n * f + n * double(n) * n / 3.0 + 4.0 * n * f; }

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
    // Use exact short-row solves when the rows they save outweigh precomputing Z = Y M.
    ShortRowSolver exact;
    bool use_exact = false;
    if (params.exact_short_rows) {
      double saved = 0.0;
      for (int64_t u = 0; u < m.n_rows; ++u) {
        const bool has_prior = prior.weight && prior.weight[u] > 0.0f;
        const int64_t n = m.row_nnz(u);
        if (!has_prior && n > 0) saved += std::max(0.0, cg_cost(n, f, params.cg_steps) - woodbury_cost(n, f));
      }
      const double precompute = double(Y.n_rows) * f * f * 2.0 + 2.0 * double(f) * f * f;
      use_exact = saved > 1.5 * precompute && exact.prepare(Y, G, params.regularization, n_threads);
    }
    // Rows needing CG, in row order, handed out kLanes at a time; the others are solved here.
    std::vector<int64_t> cg_rows;
    cg_rows.reserve(static_cast<size_t>(m.n_rows));
    for (int64_t u = 0; u < m.n_rows; ++u) {
      const bool has_prior = prior.weight && prior.weight[u] > 0.0f;
      const int64_t n = m.row_nnz(u);
      if (n == 0 && !has_prior) {
        std::fill(X + u * f, X + (u + 1) * f, 0.0f);  // closed form: b = 0
      } else if (!(use_exact && !has_prior && woodbury_cost(n, f) < cg_cost(n, f, params.cg_steps))) {
        cg_rows.push_back(u);
      }
    }
    if (use_exact) {
      parallel_for(
          m.n_rows, n_threads, 16, [] { return ShortRowSolver::Scratch{}; },
          [&](int64_t u, ShortRowSolver::Scratch& s) {
            const int64_t n = m.row_nnz(u);
            if (n == 0 || (prior.weight && prior.weight[u] > 0.0f) ||
                !(woodbury_cost(n, f) < cg_cost(n, f, params.cg_steps)))
              return;
            if (!exact.solve(m, u, Y, params.alpha, X + u * f, s)) failed[u] = 2;  // -> CG below
          });
      for (int64_t u = 0; u < m.n_rows; ++u)
        if (failed[u] == 2) {
          failed[u] = 0;
          cg_rows.push_back(u);
        }
    }
    const int64_t n_groups = (static_cast<int64_t>(cg_rows.size()) + kLanes - 1) / kLanes;
    parallel_for(
        n_groups, n_threads, 2, [&] { return CgScratch(f); },
        [&](int64_t g, CgScratch& s) {
          const int64_t first = g * kLanes;
          const int n = static_cast<int>(std::min<int64_t>(kLanes, static_cast<int64_t>(cg_rows.size()) - first));
          cg_lanes(m, cg_rows.data() + first, n, Y, G, prior, params.regularization, params.alpha,
                   params.cg_steps, X, s);
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
