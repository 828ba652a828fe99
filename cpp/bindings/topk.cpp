// Bindings for batch top-N selection.
#include "crossrec/topk.hpp"

#include "common.hpp"

namespace crossrec::bind {
namespace {

struct Exclusion {
  std::optional<CsrArg> csr;
  std::optional<In<int32_t>> rows;
};

// exclude = (indptr, indices, n_cols) or None; exclude_rows maps each query row to a CSR row.
Exclusion exclusion_arg(const py::object& indptr, const py::object& indices, const py::object& exclude_rows,
                        int64_t n_query, int64_t n_items) {
  Exclusion e;
  if (indptr.is_none()) return e;
  e.csr = csr_arg(indptr, indices, py::none(), n_items, "exclude");
  e.rows = index_array(exclude_rows, "exclude_rows");
  require(e.rows->shape(0) == n_query, "exclude_rows: length " + std::to_string(e.rows->shape(0)) +
                                           " != number of query rows " + std::to_string(n_query));
  return e;
}

std::optional<In<int32_t>> candidates_arg(const py::object& obj) {
  if (obj.is_none()) return std::nullopt;
  return index_array(obj, "candidates");
}

void validate_common(const Exclusion& e, const std::optional<In<int32_t>>& cand, int64_t n_items) {
  if (e.csr) {
    e.csr->validate(false);
    validate_indices(e.rows->data(), e.rows->shape(0), e.csr->view.n_rows, "exclude_rows");
  }
  if (cand) validate_indices(cand->data(), cand->shape(0), n_items, "candidates");
}

}  // namespace

CROSSREC_BINDINGS(topk) {
  m.def(
      "topn_from_scores",
      [](const py::object& scores_obj, int n, const py::object& exclude_indptr, const py::object& exclude_indices,
         const py::object& exclude_rows, const py::object& candidates, int n_threads) {
        auto scores = float_matrix(scores_obj, "scores");
        require(n >= 1, "n: must be >= 1, got " + std::to_string(n));
        thread_arg(n_threads);
        const int64_t rows = scores.shape(0), items = scores.shape(1);
        auto excl = exclusion_arg(exclude_indptr, exclude_indices, exclude_rows, rows, items);
        auto cand = candidates_arg(candidates);
        auto out_items = new_array<int32_t>({rows, n});
        auto out_scores = new_array<float>({rows, n});
        {
          py::gil_scoped_release release;
          validate_common(excl, cand, items);
          topn_from_scores(dense_view(scores), excl.csr ? &excl.csr->view : nullptr,
                           excl.rows ? excl.rows->data() : nullptr, cand ? cand->data() : nullptr,
                           cand ? cand->shape(0) : 0, n, out_items.mutable_data(), out_scores.mutable_data(),
                           n_threads);
        }
        return std::make_pair(out_items, out_scores);
      },
      py::arg("scores"), py::arg("n"), py::arg("exclude_indptr") = py::none(), py::arg("exclude_indices") = py::none(),
      py::arg("exclude_rows") = py::none(), py::arg("candidates") = py::none(), py::arg("n_threads") = 0,
      "Top-n (items, scores) of each row of a dense score block; padded with -1 / -inf.");

  m.def(
      "topn_from_factors",
      [](const py::object& user_obj, const py::object& item_obj, const py::object& bias_obj, int n,
         const py::object& exclude_indptr, const py::object& exclude_indices, const py::object& exclude_rows,
         const py::object& candidates, int n_threads) {
        auto U = float_matrix(user_obj, "user_factors");
        auto V = float_matrix(item_obj, "item_factors");
        require(U.shape(1) == V.shape(1), "user_factors and item_factors: factor counts differ (" +
                                              std::to_string(U.shape(1)) + " vs " + std::to_string(V.shape(1)) + ")");
        require(n >= 1, "n: must be >= 1, got " + std::to_string(n));
        thread_arg(n_threads);
        const int64_t rows = U.shape(0), items = V.shape(0);
        std::optional<In<float>> bias;
        if (!bias_obj.is_none()) {
          bias = float_vector(bias_obj, "item_bias");
          require(bias->shape(0) == items, "item_bias: length " + std::to_string(bias->shape(0)) +
                                               " != number of items " + std::to_string(items));
        }
        auto excl = exclusion_arg(exclude_indptr, exclude_indices, exclude_rows, rows, items);
        auto cand = candidates_arg(candidates);
        auto out_items = new_array<int32_t>({rows, n});
        auto out_scores = new_array<float>({rows, n});
        {
          py::gil_scoped_release release;
          validate_common(excl, cand, items);
          topn_from_factors(dense_view(U), dense_view(V), bias ? bias->data() : nullptr,
                            excl.csr ? &excl.csr->view : nullptr, excl.rows ? excl.rows->data() : nullptr,
                            cand ? cand->data() : nullptr, cand ? cand->shape(0) : 0, n, out_items.mutable_data(),
                            out_scores.mutable_data(), n_threads);
        }
        return std::make_pair(out_items, out_scores);
      },
      py::arg("user_factors"), py::arg("item_factors"), py::arg("item_bias") = py::none(), py::arg("n") = 10,
      py::arg("exclude_indptr") = py::none(), py::arg("exclude_indices") = py::none(),
      py::arg("exclude_rows") = py::none(), py::arg("candidates") = py::none(), py::arg("n_threads") = 0,
      "Top-n items by user_factors @ item_factors.T (+ item_bias) without the full score matrix.");
}

}  // namespace crossrec::bind
