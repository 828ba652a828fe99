// Bindings for the SGD matrix-factorisation and BPR epochs.
#include "crossrec/sgd.hpp"

#include "common.hpp"
#include "factor_args.hpp"

namespace crossrec::bind {
namespace {

struct State {
  InOut<float> X, Y;
  std::optional<InOut<float>> user_bias, item_bias;
  FactorState view;
};

State state_arg(const py::object& X_obj, const py::object& Y_obj, const py::object& ub, const py::object& ib,
                bool need_user_bias) {
  State s{inplace_matrix(X_obj, "X"), inplace_matrix(Y_obj, "Y"), std::nullopt, std::nullopt, {}};
  const int64_t f = s.X.shape(1);
  require(f >= 1, "X: needs at least one factor column");
  require(s.Y.shape(1) == f,
          "X and Y: factor counts differ (" + std::to_string(f) + " vs " + std::to_string(s.Y.shape(1)) + ")");
  require_disjoint(s.X, s.Y, "X", "Y");
  if (need_user_bias) {
    require(ub.is_none() == ib.is_none(), "user_bias and item_bias: give both or neither");
    if (!ub.is_none()) {
      s.user_bias = inplace_array(ub, "user_bias", 1);
      require(s.user_bias->shape(0) == s.X.shape(0), "user_bias: expected length " + std::to_string(s.X.shape(0)));
    }
  }
  if (!ib.is_none()) {
    s.item_bias = inplace_array(ib, "item_bias", 1);
    require(s.item_bias->shape(0) == s.Y.shape(0), "item_bias: expected length " + std::to_string(s.Y.shape(0)));
  }
  s.view.X = s.X.mutable_data();
  s.view.Y = s.Y.mutable_data();
  s.view.user_bias = s.user_bias ? s.user_bias->mutable_data() : nullptr;
  s.view.item_bias = s.item_bias ? s.item_bias->mutable_data() : nullptr;
  s.view.f = f;
  return s;
}

void validate_state(const State& s) {
  validate_finite(s.X.data(), s.X.size(), "X");
  validate_finite(s.Y.data(), s.Y.size(), "Y");
  if (s.user_bias) validate_finite(s.user_bias->data(), s.user_bias->size(), "user_bias");
  if (s.item_bias) validate_finite(s.item_bias->data(), s.item_bias->size(), "item_bias");
}

SgdParams params_arg(float lr, float reg, float reg_b, uint64_t seed, uint64_t epoch) {
  require(std::isfinite(lr) && lr > 0.0f, "learning_rate: must be finite and > 0, got " + std::to_string(lr));
  require(std::isfinite(reg) && reg >= 0.0f, "regularization: must be finite and >= 0, got " + std::to_string(reg));
  require(std::isfinite(reg_b) && reg_b >= 0.0f,
          "bias_regularization: must be finite and >= 0, got " + std::to_string(reg_b));
  SgdParams p;
  p.learning_rate = lr;
  p.regularization = reg;
  p.bias_regularization = reg_b;
  p.seed = seed;
  p.epoch = epoch;
  return p;
}

}  // namespace

CROSSREC_BINDINGS(sgd) {
  m.def(
      "sgd_epoch",
      [](const py::object& indptr, const py::object& indices, const py::object& data, const py::object& X_obj,
         const py::object& Y_obj, const py::object& ub, const py::object& ib, float global_mean, float learning_rate,
         float regularization, float bias_regularization, uint64_t epoch, uint64_t seed, const py::object& weights_obj,
         const py::object& up_t, const py::object& up_w, const py::object& ip_t, const py::object& ip_w,
         int64_t threads_arg, const py::object& ub_t) {
        const int n_threads = thread_arg(threads_arg);
        require(std::isfinite(global_mean), "global_mean: must be finite");
        require(!data.is_none(), "matrix.data: SGD needs the ratings");
        auto st = state_arg(X_obj, Y_obj, ub, ib, true);
        auto mat = csr_arg(indptr, indices, data, st.Y.shape(0), "matrix");
        require(mat.view.n_rows == st.X.shape(0), "X: has " + std::to_string(st.X.shape(0)) +
                                                      " rows but the matrix has " + std::to_string(mat.view.n_rows));
        auto params = params_arg(learning_rate, regularization, bias_regularization, seed, epoch);
        std::optional<In<float>> weights;
        if (!weights_obj.is_none()) {
          weights = float_vector(weights_obj, "weights");
          require(weights->shape(0) == mat.view.nnz(),
                  "weights: expected one per stored entry (" + std::to_string(mat.view.nnz()) + ")");
        }
        auto up = prior_arg(up_t, up_w, st.X.shape(0), st.view.f, "user_prior");
        auto ip = prior_arg(ip_t, ip_w, st.Y.shape(0), st.view.f, "item_prior");
        std::optional<In<float>> bias_target;
        if (!ub_t.is_none()) {
          require(static_cast<bool>(st.user_bias), "user_bias_prior: needs user_bias and item_bias");
          require(static_cast<bool>(up.target),
                  "user_bias_prior: needs user_prior and user_prior_weight (its weights)");
          bias_target = float_vector(ub_t, "user_bias_prior");
          require(bias_target->shape(0) == st.X.shape(0),
                  "user_bias_prior: expected length " + std::to_string(st.X.shape(0)));
          st.view.user_bias_target = bias_target->data();
        }
        double sse = 0.0;
        {
          py::gil_scoped_release release;
          mat.validate();
          validate_sorted_unique(mat.view, "matrix");
          validate_state(st);
          if (weights) {
            const float* w = weights->data();
            for (int64_t i = 0; i < weights->shape(0); ++i)
              if (!(std::isfinite(w[i]) && w[i] >= 0.0f))
                fail("weights: must be finite and >= 0 (position " + std::to_string(i) + ")");
          }
          up.validate("user_prior");
          ip.validate("item_prior");
          if (bias_target) validate_finite(bias_target->data(), bias_target->size(), "user_bias_prior");
          sse = sgd_epoch(mat.view, weights ? weights->data() : nullptr, global_mean, st.view, params, up.view(),
                          ip.view(), n_threads);
        }
        return sse;
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("X"), py::arg("Y"),
      py::arg("user_bias") = py::none(), py::arg("item_bias") = py::none(), py::arg("global_mean") = 0.0f,
      py::arg("learning_rate") = 0.005f, py::arg("regularization") = 0.02f, py::arg("bias_regularization") = 0.02f,
      py::arg("epoch") = 0, py::arg("seed") = 0, py::arg("weights") = py::none(), py::arg("user_prior") = py::none(),
      py::arg("user_prior_weight") = py::none(), py::arg("item_prior") = py::none(),
      py::arg("item_prior_weight") = py::none(), py::arg("n_threads") = 0, py::arg("user_bias_prior") = py::none(),
      "One stratified SGD epoch of biased MF; updates X, Y and the biases in place; returns sum v e^2.");

  m.def(
      "bpr_epoch",
      [](const py::object& indptr, const py::object& indices, const py::object& data, const py::object& X_obj,
         const py::object& Y_obj, const py::object& ib, float learning_rate, float regularization,
         float bias_regularization, uint64_t epoch, uint64_t seed, const py::object& up_t, const py::object& up_w,
         const py::object& ip_t, const py::object& ip_w, int64_t threads_arg) {
        const int n_threads = thread_arg(threads_arg);
        auto st = state_arg(X_obj, Y_obj, py::none(), ib, false);
        auto mat = csr_arg(indptr, indices, data, st.Y.shape(0), "matrix");
        require(mat.view.n_rows == st.X.shape(0), "X: has " + std::to_string(st.X.shape(0)) +
                                                      " rows but the matrix has " + std::to_string(mat.view.n_rows));
        auto params = params_arg(learning_rate, regularization, bias_regularization, seed, epoch);
        auto up = prior_arg(up_t, up_w, st.X.shape(0), st.view.f, "user_prior");
        auto ip = prior_arg(ip_t, ip_w, st.Y.shape(0), st.view.f, "item_prior");
        double loss = 0.0;
        int64_t correct = 0, taken = 0;
        {
          py::gil_scoped_release release;
          mat.validate();
          validate_sorted_unique(mat.view, "matrix");
          validate_state(st);
          up.validate("user_prior");
          ip.validate("item_prior");
          taken = bpr_epoch(mat.view, st.view, params, up.view(), ip.view(), n_threads, &loss, &correct);
        }
        return py::make_tuple(taken, loss, correct);
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("X"), py::arg("Y"),
      py::arg("item_bias") = py::none(), py::arg("learning_rate") = 0.01f, py::arg("regularization") = 0.01f,
      py::arg("bias_regularization") = 0.01f, py::arg("epoch") = 0, py::arg("seed") = 0,
      py::arg("user_prior") = py::none(), py::arg("user_prior_weight") = py::none(), py::arg("item_prior") = py::none(),
      py::arg("item_prior_weight") = py::none(), py::arg("n_threads") = 0,
      "One stratified BPR epoch; updates X, Y (and item_bias) in place; returns (samples, loss sum, correct).");
}

}  // namespace crossrec::bind
