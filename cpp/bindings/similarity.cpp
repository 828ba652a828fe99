// Bindings for the sparse top-k similarity kernel.
#include "crossrec/similarity.hpp"

#include "common.hpp"
#include "knn_common.hpp"

namespace crossrec::bind {

CROSSREC_BINDINGS(similarity) {
  m.def(
      "topk_similarity",
      [](const py::object& indptr, const py::object& indices, const py::object& data, int64_t n_cols, int64_t k_arg,
         const std::string& kind, double shrink, int64_t min_support, const py::object& rows_obj, int64_t threads_arg,
         const py::object& allowed_obj) {
        CsrArg X = csr_arg(indptr, indices, data, n_cols, "matrix");
        count_arg(k_arg, "k", 1, INT64_MAX);
        // A row has at most n_rows - 1 neighbours: a larger k only sizes buffers.
        const int k = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(k_arg, X.view.n_rows)));
        SimOptions opt = sim_options(kind, shrink, count_arg(min_support, "min_support", 0));
        const int n_threads = thread_arg(threads_arg);
        const int64_t n_rows = X.view.n_rows;
        std::optional<In<int32_t>> rows;
        if (!rows_obj.is_none()) rows = index_array(rows_obj, "rows");
        std::optional<In<uint8_t>> allowed;
        if (!allowed_obj.is_none()) {
          allowed = In<uint8_t>::ensure(allowed_obj);
          require(static_cast<bool>(*allowed) && allowed->ndim() == 1 && allowed->shape(0) == n_rows,
                  "allowed: must be a 1-D uint8 array with one flag per row (" + std::to_string(n_rows) + ")");
        }
        const int64_t n_query = rows ? rows->shape(0) : n_rows;
        std::vector<int32_t> idx, count;
        std::vector<float> val;
        std::vector<int64_t> out_indptr(static_cast<size_t>(n_query) + 1, 0);
        {
          require_memory(static_cast<double>(n_query) * k * 8 + static_cast<double>(n_cols) * 8 + X.view.nnz() * 8.0,
                         "topk_similarity (n_query x k neighbours and the transpose)");
          py::gil_scoped_release release;
          X.validate();
          validate_sorted_unique(X.view, "matrix");
          if (rows) validate_indices(rows->data(), n_query, n_rows, "rows");
          opt.float_accumulators = use_float_accumulators(X.view, opt);
          CsrOwned T = transpose(X.view);
          const CsrView cols = T.view(X.view.n_cols, n_rows);
          std::vector<double> norms;
          if (opt.kind == SimKind::cosine) norms = row_norms(X.view);
          idx.resize(static_cast<size_t>(n_query) * k);
          val.resize(static_cast<size_t>(n_query) * k);
          count.resize(static_cast<size_t>(n_query));
          topk_similarity(X.view, cols, norms.empty() ? nullptr : norms.data(), opt, rows ? rows->data() : nullptr,
                          n_query, k, allowed ? allowed->data() : nullptr, idx.data(), val.data(), count.data(),
                          n_threads);
          for (int64_t q = 0; q < n_query; ++q) out_indptr[q + 1] = out_indptr[q] + count[q];
        }
        const int64_t nnz = out_indptr[n_query];
        auto a_indptr = new_array<int64_t>({n_query + 1});
        auto a_indices = new_array<int32_t>({nnz});
        auto a_data = new_array<float>({nnz});
        {
          py::gil_scoped_release release;
          std::copy(out_indptr.begin(), out_indptr.end(), a_indptr.mutable_data());
          int32_t* oi = a_indices.mutable_data();
          float* ov = a_data.mutable_data();
          for (int64_t q = 0; q < n_query; ++q) {
            std::copy_n(idx.data() + q * k, count[q], oi + out_indptr[q]);
            std::copy_n(val.data() + q * k, count[q], ov + out_indptr[q]);
          }
        }
        return py::make_tuple(a_indptr, a_indices, a_data);
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("n_cols"), py::arg("k"),
      py::arg("kind") = "cosine", py::arg("shrink") = 0.0, py::arg("min_support") = 1, py::arg("rows") = py::none(),
      py::arg("n_threads") = 0, py::arg("allowed") = py::none(),
      "Top-k neighbours of each row (or of `rows`) of a CSR matrix: (indptr, indices, data) of a\n"
      "(n_query x n_rows) CSR, neighbours sorted by index, zero similarities and the row itself left out;\n"
      "`allowed` (uint8 per row, optional): rows flagged 0 are never neighbours.");
}

}  // namespace crossrec::bind
