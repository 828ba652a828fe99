#include "crossrec/als.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "crossrec/als_short_rows.hpp"
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
  explicit CgScratch(int64_t f) : x(kLanes * f, 0.0f), r(kLanes * f, 0.0f), p(kLanes * f, 0.0f), ap(kLanes * f, 0.0f) {}
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
  std::vector<float> acc;  // sum of weighted y y^T, lower triangle, accumulated in float (vectorises)
  std::vector<double> A, b;
  std::vector<float> yt, wy, r, v;  // explicit rows: gathered factors (f x n), weighted row, ratings, weights
};

// acc (lower triangle) = sum_q v_q y_q y_q^T and b = sum_q v_q r_q y_q over row u, through a
// transposed gather: every inner loop then runs over the row's n entries (contiguous, usually
// longer than f) instead of over the short, ragged rows of a triangle.
CROSSREC_TARGET_CLONES
void weighted_normal_equations(const CsrView& m, int64_t u, const float* weights, const DenseView& Y, CholScratch& s) {
  const int64_t f = Y.n_cols, lo = m.begin(u), n = m.row_nnz(u);
  if (static_cast<int64_t>(s.r.size()) < n) {
    s.yt.resize(static_cast<size_t>(f * n));
    s.wy.resize(static_cast<size_t>(n));
    s.r.resize(static_cast<size_t>(n));
    s.v.resize(static_cast<size_t>(n));
  }
  float* yt = s.yt.data();
  for (int64_t t = 0; t < n; ++t) {
    const float* y = Y.row(m.indices[lo + t]);
    for (int64_t j = 0; j < f; ++j) yt[j * n + t] = y[j];
    s.v[t] = weights ? weights[lo + t] : 1.0f;
    s.r[t] = m.value(lo + t);
  }
  for (int64_t j = 0; j < f; ++j) {
    const float* yj = yt + j * n;
    float* wy = s.wy.data();
#pragma omp simd
    for (int64_t t = 0; t < n; ++t) wy[t] = s.v[t] * yj[t];
    s.b[j] = dot_double(wy, s.r.data(), n);
    float* row = s.acc.data() + j * f;
    for (int64_t k = 0; k <= j; ++k) row[k] = dot(wy, yt + k * n, n);
  }
}

// acc += weight * y y^T on the lower triangle (all that cholesky_factor reads).
CROSSREC_TARGET_CLONES
void rank1_lower(float* acc, const float* y, float weight, int64_t f) {
  for (int64_t j = 0; j < f; ++j) {
    const float a = weight * y[j];
    float* row = acc + j * f;
#pragma omp simd
    for (int64_t k = 0; k <= j; ++k) row[k] += a * y[k];
  }
}

// A = base (or 0) + acc on the lower triangle, in double for the factorisation.
void build_system(CholScratch& s, const float* base, int64_t f) {
  for (int64_t j = 0; j < f; ++j)
    for (int64_t k = 0; k <= j; ++k)
      s.A[j * f + k] = static_cast<double>(s.acc[j * f + k]) + (base ? static_cast<double>(base[j * f + k]) : 0.0);
}

bool finish_cholesky(CholScratch& s, const Row& row, int64_t f, float* x) {
  for (int64_t k = 0; k < f; ++k) s.A[k * f + k] += row.lambda;
  if (row.target)
    for (int64_t k = 0; k < f; ++k) s.b[k] += static_cast<double>(row.prior_weight) * row.target[k];
  if (!cholesky_solve(s.A.data(), s.b.data(), f)) return false;
  for (int64_t k = 0; k < f; ++k) x[k] = static_cast<float>(s.b[k]);
  return true;
}

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
  n_threads =
      threads_for(n_threads, per_pass * (params.solver == AlsSolver::kCholesky ? f / 3.0 : params.cg_steps + 1));
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
    // Sort rows into CG rows (handed out kLanes at a time) and exact short rows; empty rows without
    // prior are 0. Both kinds then run in one parallel region (one fork/join per half-sweep).
    std::vector<int64_t> cg_rows, short_rows;
    cg_rows.reserve(static_cast<size_t>(m.n_rows));
    for (int64_t u = 0; u < m.n_rows; ++u) {
      const bool has_prior = prior.weight && prior.weight[u] > 0.0f;
      const int64_t n = m.row_nnz(u);
      if (n == 0 && !has_prior) {
        std::fill(X + u * f, X + (u + 1) * f, 0.0f);  // closed form: b = 0
      } else if (use_exact && !has_prior && woodbury_cost(n, f) < cg_cost(n, f, params.cg_steps)) {
        short_rows.push_back(u);
      } else {
        cg_rows.push_back(u);
      }
    }
    const int64_t n_groups = (static_cast<int64_t>(cg_rows.size()) + kLanes - 1) / kLanes;
    const int64_t n_tasks = n_groups + static_cast<int64_t>(short_rows.size());
    parallel_for(
        n_tasks, n_threads, 4, [&] { return std::make_pair(CgScratch(f), ShortRowSolver::Scratch{}); },
        [&](int64_t t, std::pair<CgScratch, ShortRowSolver::Scratch>& s) {
          if (t < n_groups) {
            const int64_t first = t * kLanes;
            const int n = static_cast<int>(std::min<int64_t>(kLanes, static_cast<int64_t>(cg_rows.size()) - first));
            cg_lanes(m, cg_rows.data() + first, n, Y, G, prior, params.regularization, params.alpha, params.cg_steps, X,
                     s.first);
            return;
          }
          const int64_t* u = short_rows.data() + (t - n_groups);
          if (!exact.solve(m, *u, Y, params.alpha, X + *u * f, s.second))  // S not PD: fall back to CG
            cg_lanes(m, u, 1, Y, G, prior, params.regularization, params.alpha, params.cg_steps, X, s.first);
        });
  } else {
    parallel_for(
        m.n_rows, n_threads, 8,
        [&] {
          return CholScratch{
              std::vector<float>(f * f), std::vector<double>(f * f), std::vector<double>(f), {}, {}, {}, {}};
        },
        [&](int64_t u, CholScratch& s) {
          const Row row = row_terms(prior, u, f, params.regularization);
          float* x = X + u * f;
          if (m.row_nnz(u) == 0 && !row.target) {
            std::fill(x, x + f, 0.0f);
            return;
          }
          std::fill(s.acc.begin(), s.acc.end(), 0.0f);
          std::fill(s.b.begin(), s.b.end(), 0.0);
          for (int64_t q = m.begin(u); q < m.end(u); ++q) {
            const float* y = Y.row(m.indices[q]);
            const float raw = m.value(q);
            const double c = 1.0 + static_cast<double>(params.alpha) * std::fabs(raw);
            if (c != 1.0) rank1_lower(s.acc.data(), y, static_cast<float>(c - 1.0), f);
            if (raw > 0.0f)
              for (int64_t k = 0; k < f; ++k) s.b[k] += c * y[k];
          }
          build_system(s, G, f);
          if (!finish_cholesky(s, row, f, x)) failed[u] = 1;
        });
  }
  int64_t n_failed = 0;
  for (char c : failed) n_failed += c;
  return n_failed;
}

int64_t als_explicit_step(const CsrView& m, const float* weights, const DenseView& Y, const ExplicitAlsParams& params,
                          const RowPrior& prior, float* X, int n_threads) {
  const int64_t f = Y.n_cols;
  std::vector<char> failed(static_cast<size_t>(m.n_rows), 0);
  n_threads = threads_for(n_threads, double(m.n_rows) * f * f * f / 3.0 + double(m.nnz()) * f * f);
  parallel_for(
      m.n_rows, n_threads, 8,
      [&] {
        return CholScratch{
            std::vector<float>(f * f), std::vector<double>(f * f), std::vector<double>(f), {}, {}, {}, {}};
      },
      [&](int64_t u, CholScratch& s) {
        float* x = X + u * f;
        double total_weight = 0.0;
        for (int64_t q = m.begin(u); q < m.end(u); ++q) total_weight += weights ? weights[q] : 1.0f;
        const float reg =
            params.weighted_lambda ? static_cast<float>(params.regularization * total_weight) : params.regularization;
        const Row row = row_terms(prior, u, f, reg);
        if (m.row_nnz(u) == 0 && !row.target) {
          std::fill(x, x + f, 0.0f);
          return;
        }
        weighted_normal_equations(m, u, weights, Y, s);
        build_system(s, nullptr, f);
        if (!finish_cholesky(s, row, f, x)) failed[u] = 1;
      });
  int64_t n_failed = 0;
  for (char c : failed) n_failed += c;
  return n_failed;
}

}  // namespace crossrec
