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
  if (cand) {
    validate_indices(cand->data(), cand->shape(0), n_items, "candidates");
    // A repeated candidate would be returned repeatedly ([[x, x, x]]): refuse it.
    std::vector<uint8_t> seen(static_cast<size_t>(n_items), 0);
    for (int64_t p = 0; p < cand->shape(0); ++p)
      if (seen[cand->data()[p]]++)
        fail("candidates: item " + std::to_string(cand->data()[p]) + " appears more than once (give each once)");
  }
}

// n above the number of rankable items only adds -1 padding: clamp it there (at least 1 column).
int clamp_n(int64_t n, int64_t rows, int64_t items, const std::optional<In<int32_t>>& cand) {
  count_arg(n, "n", 1, INT64_MAX);
  const int64_t positions = cand ? cand->shape(0) : items;
  const int64_t width = std::max<int64_t>(1, std::min<int64_t>(n, positions));
  require_memory(static_cast<double>(rows) * width * 8,
                 "top-n output (" + std::to_string(rows) + " x " + std::to_string(width) + " items and scores)");
  return static_cast<int>(width);
}

}  // namespace

CROSSREC_BINDINGS(topk) {
  m.def(
      "topn_from_scores",
      [](const py::object& scores_obj, int64_t n_arg, const py::object& exclude_indptr,
         const py::object& exclude_indices, const py::object& exclude_rows, const py::object& candidates,
         int64_t threads_arg) {
        auto scores = float_matrix(scores_obj, "scores");
        const int n_threads = thread_arg(threads_arg);
        const int64_t rows = scores.shape(0), items = scores.shape(1);
        auto excl = exclusion_arg(exclude_indptr, exclude_indices, exclude_rows, rows, items);
        auto cand = candidates_arg(candidates);
        const int n = clamp_n(n_arg, rows, items, cand);
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
      "Top-n (items, scores) of each row of a dense score block; padded with -1 / -inf; n is clamped to the\n"
      "number of rankable items (columns or candidates, which must be distinct).");

  m.def(
      "topn_from_factors",
      [](const py::object& user_obj, const py::object& item_obj, const py::object& bias_obj, int64_t n_arg,
         const py::object& exclude_indptr, const py::object& exclude_indices, const py::object& exclude_rows,
         const py::object& candidates, int64_t threads_arg) {
        auto U = float_matrix(user_obj, "user_factors");
        auto V = float_matrix(item_obj, "item_factors");
        require(U.shape(1) == V.shape(1), "user_factors and item_factors: factor counts differ (" +
                                              std::to_string(U.shape(1)) + " vs " + std::to_string(V.shape(1)) + ")");
        const int n_threads = thread_arg(threads_arg);
        const int64_t rows = U.shape(0), items = V.shape(0);
        std::optional<In<float>> bias;
        if (!bias_obj.is_none()) {
          bias = float_vector(bias_obj, "item_bias");
          require(bias->shape(0) == items, "item_bias: length " + std::to_string(bias->shape(0)) +
                                               " != number of items " + std::to_string(items));
        }
        auto excl = exclusion_arg(exclude_indptr, exclude_indices, exclude_rows, rows, items);
        auto cand = candidates_arg(candidates);
        const int n = clamp_n(n_arg, rows, items, cand);
        auto out_items = new_array<int32_t>({rows, n});
        auto out_scores = new_array<float>({rows, n});
        {
          py::gil_scoped_release release;
          validate_common(excl, cand, items);
          // Non-finite factors give NaN/inf scores: a ranking by them would be silently wrong.
          validate_finite(U.data(), U.size(), "user_factors");
          validate_finite(V.data(), V.size(), "item_factors");
          if (bias) validate_finite(bias->data(), items, "item_bias");
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
      "Top-n items by user_factors @ item_factors.T (+ item_bias) without the full score matrix; n is clamped\n"
      "to the number of rankable items (items or candidates, which must be distinct).");
}

}  // namespace crossrec::bind
