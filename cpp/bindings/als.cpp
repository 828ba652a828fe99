// Bindings for the ALS half-sweeps and the Gram matrix.
#include "crossrec/als.hpp"

#include "common.hpp"
#include "factor_args.hpp"

namespace crossrec::bind {
namespace {

// Y (n_cols x f, read) and X (n_rows x f, updated in place) of one half-sweep.
struct Factors {
  In<float> Y;
  InOut<float> X;
  int64_t f;
};

Factors factors_arg(const py::object& Y_obj, const py::object& X_obj, const CsrArg& m) {
  Factors a{float_matrix(Y_obj, "Y"), inplace_matrix(X_obj, "X"), 0};
  a.f = a.Y.shape(1);
  require(a.f >= 1, "Y: needs at least one factor column");
  require(a.Y.shape(0) == m.view.n_cols, "Y: has " + std::to_string(a.Y.shape(0)) + " rows but the matrix has " +
                                             std::to_string(m.view.n_cols) + " columns");
  require(a.X.shape(0) == m.view.n_rows && a.X.shape(1) == a.f,
          "X: expected shape (" + std::to_string(m.view.n_rows) + ", " + std::to_string(a.f) + "), got (" +
              std::to_string(a.X.shape(0)) + ", " + std::to_string(a.X.shape(1)) + ")");
  require_disjoint(a.X, a.Y, "X", "Y");
  return a;
}

// The f x f Gram matrix and one f x f system per thread, in double.
void require_system_memory(int64_t f, int n_threads) {
  require_memory(static_cast<double>(f) * f * 8 * (resolve_threads(n_threads) + 2),
                 "ALS's " + std::to_string(f) + " x " + std::to_string(f) + " systems (lower factors)");
}

void require_reg(float reg) {
  require(std::isfinite(reg) && reg >= 0.0f, "regularization: must be finite and >= 0, got " + std::to_string(reg));
}

}  // namespace

CROSSREC_BINDINGS(als) {
  m.def(
      "gram_matrix",
      [](const py::object& Y_obj, int64_t threads_arg) {
        auto Y = float_matrix(Y_obj, "Y");
        const int n_threads = thread_arg(threads_arg);
        const int64_t f = Y.shape(1);
        require_system_memory(f, 1);
        auto out = new_array<float>({f, f});
        {
          py::gil_scoped_release release;
          validate_finite(Y.data(), Y.size(), "Y");
          gram_matrix(dense_view(Y), out.mutable_data(), n_threads);
        }
        return out;
      },
      py::arg("Y"), py::arg("n_threads") = 0, "Y^T Y as float32 (f x f), summed in double.");

  m.def(
      "als_implicit_step",
      [](const py::object& indptr, const py::object& indices, const py::object& data, const py::object& Y_obj,
         const py::object& X_obj, float regularization, float alpha, const std::string& solver, int64_t cg_steps,
         const py::object& gram_obj, const py::object& prior_obj, const py::object& prior_weight_obj,
         int64_t threads_arg, bool exact_short_rows) {
        require(solver == "cg" || solver == "cholesky", "solver: must be 'cg' or 'cholesky', got '" + solver + "'");
        require_reg(regularization);
        require(std::isfinite(alpha) && alpha >= 0.0f, "alpha: must be finite and >= 0, got " + std::to_string(alpha));
        count_arg(cg_steps, "cg_steps", 1, 10000);
        const int n_threads = thread_arg(threads_arg);
        auto Y0 = float_matrix(Y_obj, "Y");
        auto mat = csr_arg(indptr, indices, data, Y0.shape(0), "matrix");
        auto fa = factors_arg(Y0, X_obj, mat);
        std::optional<In<float>> gram;
        if (!gram_obj.is_none()) {
          gram = float_matrix(gram_obj, "gram");
          require(gram->shape(0) == fa.f && gram->shape(1) == fa.f,
                  "gram: expected shape (" + std::to_string(fa.f) + ", " + std::to_string(fa.f) + ")");
        }
        auto prior = prior_arg(prior_obj, prior_weight_obj, mat.view.n_rows, fa.f, "prior");
        require_system_memory(fa.f, n_threads);
        ImplicitAlsParams params;
        params.regularization = regularization;
        params.alpha = alpha;
        params.solver = solver == "cg" ? AlsSolver::kConjugateGradient : AlsSolver::kCholesky;
        params.cg_steps = static_cast<int>(cg_steps);
        params.exact_short_rows = exact_short_rows;
        int64_t failed = 0;
        {
          py::gil_scoped_release release;
          mat.validate();
          validate_sorted_unique(mat.view, "matrix");
          validate_finite(fa.Y.data(), fa.Y.size(), "Y");
          validate_finite(fa.X.data(), fa.X.size(), "X");
          if (gram) validate_finite(gram->data(), gram->size(), "gram");
          prior.validate("prior");
          std::vector<float> own_gram;
          const float* G = gram ? gram->data() : nullptr;
          if (!G) {
            own_gram.resize(static_cast<size_t>(fa.f * fa.f));
            gram_matrix(dense_view(fa.Y), own_gram.data(), n_threads);
            G = own_gram.data();
          }
          failed =
              als_implicit_step(mat.view, dense_view(fa.Y), G, params, prior.view(), fa.X.mutable_data(), n_threads);
        }
        return failed;
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("Y"), py::arg("X"), py::arg("regularization"),
      py::arg("alpha") = 1.0f, py::arg("solver") = "cg", py::arg("cg_steps") = 3, py::arg("gram") = py::none(),
      py::arg("prior") = py::none(), py::arg("prior_weight") = py::none(), py::arg("n_threads") = 0,
      py::arg("exact_short_rows") = true,
      "Implicit ALS half-sweep: updates X (float32, C-contiguous) in place; returns the number of rows "
      "whose system was not positive definite.");

  m.def(
      "als_explicit_step",
      [](const py::object& indptr, const py::object& indices, const py::object& data, const py::object& Y_obj,
         const py::object& X_obj, float regularization, const py::object& weights_obj, bool weighted_lambda,
         const py::object& prior_obj, const py::object& prior_weight_obj, int64_t threads_arg) {
        require_reg(regularization);
        const int n_threads = thread_arg(threads_arg);
        require(!data.is_none(), "matrix.data: explicit ALS needs the ratings");
        auto Y0 = float_matrix(Y_obj, "Y");
        auto mat = csr_arg(indptr, indices, data, Y0.shape(0), "matrix");
        auto fa = factors_arg(Y0, X_obj, mat);
        std::optional<In<float>> weights;
        if (!weights_obj.is_none()) {
          weights = float_vector(weights_obj, "weights");
          require(weights->shape(0) == mat.view.nnz(), "weights: expected one per stored entry (" +
                                                           std::to_string(mat.view.nnz()) + "), got " +
                                                           std::to_string(weights->shape(0)));
        }
        auto prior = prior_arg(prior_obj, prior_weight_obj, mat.view.n_rows, fa.f, "prior");
        require_system_memory(fa.f, n_threads);
        ExplicitAlsParams params;
        params.regularization = regularization;
        params.weighted_lambda = weighted_lambda;
        int64_t failed = 0;
        {
          py::gil_scoped_release release;
          mat.validate();
          validate_sorted_unique(mat.view, "matrix");
          validate_finite(fa.Y.data(), fa.Y.size(), "Y");
          if (weights) {
            const float* w = weights->data();
            for (int64_t i = 0; i < weights->shape(0); ++i)
              if (!(std::isfinite(w[i]) && w[i] >= 0.0f))
                fail("weights: must be finite and >= 0, got " + std::to_string(w[i]) + " at position " +
                     std::to_string(i));
          }
          prior.validate("prior");
          failed = als_explicit_step(mat.view, weights ? weights->data() : nullptr, dense_view(fa.Y), params,
                                     prior.view(), fa.X.mutable_data(), n_threads);
        }
        return failed;
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("Y"), py::arg("X"), py::arg("regularization"),
      py::arg("weights") = py::none(), py::arg("weighted_lambda") = true, py::arg("prior") = py::none(),
      py::arg("prior_weight") = py::none(), py::arg("n_threads") = 0,
      "Explicit ALS half-sweep (exact, Cholesky): updates X in place; returns the number of rows whose "
      "system was not positive definite.");
}

}  // namespace crossrec::bind
