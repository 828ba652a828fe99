// Bindings for neighbourhood prediction and top-N scoring.
#include "crossrec/knn_predict.hpp"

#include "common.hpp"
#include "knn_common.hpp"

namespace crossrec::bind {
namespace {

// Centering arrays and scalars of a prediction call, checked against the matrix shape.
struct PredictArgs {
  PredictParams pp;
  std::optional<In<double>> x_mean;
  std::optional<In<float>> bx, by;
};

PredictArgs predict_args(const std::string& centering, int64_t k, int64_t min_k, double global_mean,
                         const py::object& x_mean, const py::object& bx, const py::object& by, bool clip, double lo,
                         double hi, int64_t n_x, int64_t n_y) {
  PredictArgs a;
  count_arg(k, "k", 1, INT64_MAX);
  count_arg(min_k, "min_k", 0, INT64_MAX);
  // No one has more than n_x neighbours: larger k / min_k mean "all of them".
  k = std::max<int64_t>(1, std::min<int64_t>(k, n_x));
  min_k = std::min<int64_t>(min_k, n_x + 1);
  require(std::isfinite(global_mean), "global_mean: must be finite");
  a.pp.k = static_cast<int>(k);
  a.pp.min_k = static_cast<int>(min_k);
  a.pp.global_mean = global_mean;
  if (centering == "none") {
    a.pp.centering = Centering::none;
  } else if (centering == "mean") {
    a.pp.centering = Centering::mean;
    require(!x_mean.is_none(), "x_mean: required when centering='mean'");
    require_float_kind(x_mean, "x_mean");
    a.x_mean = In<double>::ensure(x_mean);
    require(a.x_mean->ndim() == 1 && a.x_mean->shape(0) == n_x, "x_mean: expected length " + std::to_string(n_x));
    a.pp.x_mean = a.x_mean->data();
  } else if (centering == "baseline") {
    a.pp.centering = Centering::baseline;
    require(!bx.is_none() && !by.is_none(), "bx, by: required when centering='baseline'");
    a.bx = float_vector(bx, "bx");
    a.by = float_vector(by, "by");
    require(a.bx->shape(0) == n_x, "bx: expected length " + std::to_string(n_x));
    require(a.by->shape(0) == n_y, "by: expected length " + std::to_string(n_y));
    a.pp.bx = a.bx->data();
    a.pp.by = a.by->data();
  } else {
    fail("centering: must be 'none', 'mean' or 'baseline', got '" + centering + "'");
  }
  if (clip) {
    require(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, "clip bounds: need finite lo <= hi");
    a.pp.clip = true;
    a.pp.lo = lo;
    a.pp.hi = hi;
  }
  return a;
}

void validate_predict(const PredictArgs& a) {
  if (a.x_mean) {
    for (py::ssize_t i = 0; i < a.x_mean->shape(0); ++i)
      if (!std::isfinite(a.x_mean->data()[i])) fail("x_mean: holds a NaN or infinite value");
  }
  if (a.bx) validate_finite(a.bx->data(), a.bx->shape(0), "bx");
  if (a.by) validate_finite(a.by->data(), a.by->shape(0), "by");
}

std::pair<In<int32_t>, In<int32_t>> query_args(const py::object& qx, const py::object& qy) {
  auto x = index_array(qx, "qx");
  auto y = index_array(qy, "qy");
  require(x.shape(0) == y.shape(0),
          "qx and qy: lengths differ (" + std::to_string(x.shape(0)) + " vs " + std::to_string(y.shape(0)) + ")");
  return {x, y};
}

}  // namespace

CROSSREC_BINDINGS(knn) {
  m.def(
      "knn_predict_rated",
      [](const py::object& indptr, const py::object& indices, const py::object& data, int64_t n_y,
         const py::object& sim_data, const std::string& kind, double shrink, int64_t min_support, const py::object& qx,
         const py::object& qy, const std::string& centering, int64_t k, int64_t min_k, double global_mean,
         const py::object& x_mean, const py::object& bx, const py::object& by, bool clip, double lo, double hi,
         int64_t threads_arg) {
        CsrArg X = csr_arg(indptr, indices, data, n_y, "matrix");
        require(X.data.has_value(), "matrix.data: ratings are required");
        std::optional<CsrArg> S;
        if (!sim_data.is_none()) S = csr_arg(indptr, indices, sim_data, n_y, "sim_data");
        SimOptions opt = sim_options(kind, shrink, count_arg(min_support, "min_support", 0));
        auto [x, y] = query_args(qx, qy);
        const int64_t n_x = X.view.n_rows;
        PredictArgs pa = predict_args(centering, k, min_k, global_mean, x_mean, bx, by, clip, lo, hi, n_x, n_y);
        const int n_threads = thread_arg(threads_arg);
        const int64_t nq = x.shape(0);
        require_transpose_memory(X.view, S ? 2 : 1, "matrix");
        auto out = new_array<float>({nq});
        auto used = new_array<int32_t>({nq});
        {
          py::gil_scoped_release release;
          X.validate();
          validate_sorted_unique(X.view, "matrix");
          if (S) S->validate();
          validate_predict(pa);
          validate_indices(x.data(), nq, n_x, "qx");
          validate_indices(y.data(), nq, n_y, "qy");
          const CsrView& sv = S ? S->view : X.view;
          opt.float_accumulators = use_float_accumulators(sv, opt);
          CsrOwned T = transpose(X.view);
          CsrOwned ST;  // the similarity values' transpose, only when they differ from the ratings
          if (S) ST = transpose(sv);
          std::vector<double> norms;
          if (opt.kind == SimKind::cosine) norms = row_norms(sv);
          knn_predict_rated(X.view, T.view(n_y, n_x), sv, S ? ST.view(n_y, n_x) : T.view(n_y, n_x),
                            norms.empty() ? nullptr : norms.data(), opt, pa.pp, x.data(), y.data(), nq,
                            out.mutable_data(), used.mutable_data(), n_threads);
        }
        return std::make_pair(out, used);
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("n_y"), py::arg("sim_data"), py::arg("kind"),
      py::arg("shrink"), py::arg("min_support"), py::arg("qx"), py::arg("qy"), py::arg("centering") = "none",
      py::arg("k") = 40, py::arg("min_k") = 1, py::arg("global_mean") = 0.0, py::arg("x_mean") = py::none(),
      py::arg("bx") = py::none(), py::arg("by") = py::none(), py::arg("clip") = false, py::arg("lo") = 0.0,
      py::arg("hi") = 0.0, py::arg("n_threads") = 0,
      "Ratings for (qx, qy) pairs from the k most similar x among those who rated qy (Surprise's rule);\n"
      "returns (predictions, neighbours used).");

  m.def(
      "knn_similarity_row",
      [](const py::object& indptr, const py::object& indices, const py::object& data, int64_t n_y,
         const py::object& sim_data, const std::string& kind, double shrink, int64_t min_support, int64_t x) {
        CsrArg X = csr_arg(indptr, indices, data, n_y, "matrix");
        require(X.data.has_value(), "matrix.data: ratings are required");
        std::optional<CsrArg> S;
        if (!sim_data.is_none()) S = csr_arg(indptr, indices, sim_data, n_y, "sim_data");
        SimOptions opt = sim_options(kind, shrink, count_arg(min_support, "min_support", 0));
        const int64_t n_x = X.view.n_rows;
        require(x >= 0 && x < n_x, "x: must be in [0, " + std::to_string(n_x) + "), got " + std::to_string(x));
        require_transpose_memory(X.view, 1, "matrix");
        std::vector<int32_t> idx;
        std::vector<double> sim;
        {
          py::gil_scoped_release release;
          X.validate();
          validate_sorted_unique(X.view, "matrix");
          if (S) S->validate();
          const CsrView& sv = S ? S->view : X.view;
          opt.float_accumulators = use_float_accumulators(sv, opt);
          CsrOwned ST = transpose(sv);
          std::vector<double> norms;
          if (opt.kind == SimKind::cosine) norms = row_norms(sv);
          knn_similarity_row(sv, ST.view(n_y, n_x), norms.empty() ? nullptr : norms.data(), opt,
                             static_cast<int32_t>(x), idx, sim);
        }
        auto out_idx = new_array<int32_t>({static_cast<int64_t>(idx.size())});
        auto out_sim = new_array<double>({static_cast<int64_t>(sim.size())});
        std::copy(idx.begin(), idx.end(), out_idx.mutable_data());
        std::copy(sim.begin(), sim.end(), out_sim.mutable_data());
        return std::make_pair(out_idx, out_sim);
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("n_y"), py::arg("sim_data"), py::arg("kind"),
      py::arg("shrink"), py::arg("min_support"), py::arg("x"),
      "The similarity row of x as knn_predict_rated ranks it (double): (indices sorted, similarities).");

  m.def(
      "knn_predict_fixed",
      [](const py::object& indptr, const py::object& indices, const py::object& data, int64_t n_y,
         const py::object& nb_indptr, const py::object& nb_indices, const py::object& nb_data, const py::object& qx,
         const py::object& qy, const std::string& centering, int64_t k, int64_t min_k, double global_mean,
         const py::object& x_mean, const py::object& bx, const py::object& by, bool clip, double lo, double hi,
         int64_t threads_arg) {
        CsrArg X = csr_arg(indptr, indices, data, n_y, "matrix");
        require(X.data.has_value(), "matrix.data: ratings are required");
        const int64_t n_x = X.view.n_rows;
        CsrArg N = csr_arg(nb_indptr, nb_indices, nb_data, n_x, "neighbors");
        require(N.view.n_rows == n_x,
                "neighbors: expected " + std::to_string(n_x) + " rows, got " + std::to_string(N.view.n_rows));
        auto [x, y] = query_args(qx, qy);
        PredictArgs pa = predict_args(centering, k, min_k, global_mean, x_mean, bx, by, clip, lo, hi, n_x, n_y);
        const int n_threads = thread_arg(threads_arg);
        const int64_t nq = x.shape(0);
        require_transpose_memory(X.view, 1, "matrix");
        auto out = new_array<float>({nq});
        auto used = new_array<int32_t>({nq});
        {
          py::gil_scoped_release release;
          X.validate();
          validate_sorted_unique(X.view, "matrix");
          N.validate();
          validate_predict(pa);
          validate_indices(x.data(), nq, n_x, "qx");
          validate_indices(y.data(), nq, n_y, "qy");
          CsrOwned T = transpose(X.view);
          knn_predict_fixed(X.view, T.view(n_y, n_x), N.view, pa.pp, x.data(), y.data(), nq, out.mutable_data(),
                            used.mutable_data(), n_threads);
        }
        return std::make_pair(out, used);
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("n_y"), py::arg("nb_indptr"),
      py::arg("nb_indices"), py::arg("nb_data"), py::arg("qx"), py::arg("qy"), py::arg("centering") = "none",
      py::arg("k") = 40, py::arg("min_k") = 1, py::arg("global_mean") = 0.0, py::arg("x_mean") = py::none(),
      py::arg("bx") = py::none(), py::arg("by") = py::none(), py::arg("clip") = false, py::arg("lo") = 0.0,
      py::arg("hi") = 0.0, py::arg("n_threads") = 0,
      "Ratings for (qx, qy) pairs from the fixed neighbour lists `neighbors` restricted to raters of qy;\n"
      "returns (predictions, neighbours used).");

  m.def(
      "knn_recommend",
      [](const py::object& a_indptr, const py::object& a_indices, const py::object& a_data, int64_t a_cols,
         const py::object& rows_obj, const py::object& b_indptr, const py::object& b_indices, const py::object& b_data,
         int64_t n_items, const py::object& tie_rank_obj, const py::object& order_obj, int64_t n_arg,
         const py::object& exclude_indptr, const py::object& exclude_indices, const py::object& exclude_rows_obj,
         const py::object& allowed_obj, int64_t threads_arg) {
        CsrArg A = csr_arg(a_indptr, a_indices, a_data, a_cols, "A");
        CsrArg B = csr_arg(b_indptr, b_indices, b_data, n_items, "B");
        require(B.view.n_rows == a_cols, "B: expected " + std::to_string(a_cols) + " rows (the columns of A), got " +
                                             std::to_string(B.view.n_rows));
        count_arg(n_arg, "n", 1, INT64_MAX);
        // Never more than the catalogue: a larger n would only allocate padding.
        const int n = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(n_arg, n_items)));
        const int n_threads = thread_arg(threads_arg);
        auto rows = index_array(rows_obj, "rows");
        const int64_t nq = rows.shape(0);
        auto tie_rank = index_array(tie_rank_obj, "tie_rank");
        auto order = index_array(order_obj, "fallback_order");
        require(tie_rank.shape(0) == n_items, "tie_rank: expected length " + std::to_string(n_items));
        require(order.shape(0) == n_items, "fallback_order: expected length " + std::to_string(n_items));
        std::optional<CsrArg> excl;
        std::optional<In<int32_t>> excl_rows;
        if (!exclude_indptr.is_none()) {
          excl = csr_arg(exclude_indptr, exclude_indices, py::none(), n_items, "exclude");
          excl_rows = index_array(exclude_rows_obj, "exclude_rows");
          require(excl_rows->shape(0) == nq, "exclude_rows: expected length " + std::to_string(nq));
        }
        std::optional<In<uint8_t>> allowed;
        if (!allowed_obj.is_none()) {
          allowed = In<uint8_t>::ensure(allowed_obj);
          require(allowed && allowed->ndim() == 1 && allowed->shape(0) == n_items,
                  "allowed: expected a 1-D mask of length " + std::to_string(n_items));
        }
        auto out_items = new_array<int32_t>({nq, n});
        auto out_scores = new_array<float>({nq, n});
        auto scored = new_array<int32_t>({nq});
        {
          py::gil_scoped_release release;
          A.validate();
          B.validate();
          validate_indices(rows.data(), nq, A.view.n_rows, "rows");
          // fallback_order must be a permutation, or an item could be returned twice.
          std::vector<uint8_t> seen(static_cast<size_t>(n_items), 0);
          validate_indices(order.data(), n_items, n_items, "fallback_order");
          for (int64_t t = 0; t < n_items; ++t) {
            if (seen[order.data()[t]]++) fail("fallback_order: must be a permutation of the items");
          }
          if (excl) {
            excl->validate(false);
            validate_indices(excl_rows->data(), nq, excl->view.n_rows, "exclude_rows");
          }
          knn_recommend(A.view, rows.data(), nq, B.view, tie_rank.data(), order.data(), excl ? &excl->view : nullptr,
                        excl ? excl_rows->data() : nullptr, allowed ? allowed->data() : nullptr, n,
                        out_items.mutable_data(), out_scores.mutable_data(), scored.mutable_data(), n_threads);
        }
        return py::make_tuple(out_items, out_scores, scored);
      },
      py::arg("a_indptr"), py::arg("a_indices"), py::arg("a_data"), py::arg("a_cols"), py::arg("rows"),
      py::arg("b_indptr"), py::arg("b_indices"), py::arg("b_data"), py::arg("n_items"), py::arg("tie_rank"),
      py::arg("fallback_order"), py::arg("n") = 10, py::arg("exclude_indptr") = py::none(),
      py::arg("exclude_indices") = py::none(), py::arg("exclude_rows") = py::none(), py::arg("allowed") = py::none(),
      py::arg("n_threads") = 0,
      "Top-n items by A[rows] @ B with ties (and unreached items, score 0) ordered by tie_rank;\n"
      "returns (items, scores, number of returned items reached by some entry).");
}

}  // namespace crossrec::bind
