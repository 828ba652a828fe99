// Bindings for frequent itemsets (FP-growth, Apriori), association rules and rule scoring.
#include <algorithm>
#include <cmath>
#include <memory>
#include <unordered_map>

#include "common.hpp"
#include "crossrec/apriori.hpp"
#include "crossrec/fpgrowth.hpp"
#include "crossrec/rules.hpp"

namespace crossrec::bind {
namespace {

// Hands a vector to numpy without copying: the array owns it through a capsule.
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
  auto holder = std::make_unique<std::vector<T>>(std::move(v));
  py::capsule owner(holder.get(), [](void* p) { delete static_cast<std::vector<T>*>(p); });
  auto* data = holder.release();
  return py::array_t<T>({static_cast<py::ssize_t>(data->size())}, {static_cast<py::ssize_t>(sizeof(T))}, data->data(),
                        owner);
}

In<int64_t> int64_array(const py::handle& obj, const std::string& name) {
  py::array arr = py::array::ensure(obj);
  require(static_cast<bool>(arr) && (arr.dtype().kind() == 'i' || arr.dtype().kind() == 'u'),
          name + ": expected an integer array");
  auto out = In<int64_t>::ensure(arr);
  require_ndim(out, 1, name);
  return out;
}

// Itemsets as given to association_rules: offsets, sorted items, support fractions in (0, 1].
void validate_itemsets(const int64_t* offsets, int64_t n, const int32_t* items, const double* support) {
  if (offsets[0] != 0) fail("itemsets: offsets[0] must be 0");
  for (int64_t s = 0; s < n; ++s) {
    const int64_t b = offsets[s], e = offsets[s + 1];
    if (e < b) fail("itemsets: offsets decrease at itemset " + std::to_string(s));
    if (e - b > 63) fail("itemsets: itemset " + std::to_string(s) + " has more than 63 items");
    for (int64_t p = b; p < e; ++p) {
      if (items[p] < 0) fail("itemsets: negative item index " + std::to_string(items[p]));
      if (p > b && items[p] <= items[p - 1])
        fail("itemsets: items of itemset " + std::to_string(s) + " are not sorted and unique");
    }
    if (!(support[s] > 0.0 && support[s] <= 1.0))
      fail("support: values must be fractions in (0, 1], got " + std::to_string(support[s]) + " at itemset " +
           std::to_string(s));
  }
}

// Baskets given as a Python sequence of sequences of hashable ids -> (indptr, codes, ids).
// Codes number the distinct ids in order of first appearance. This loop over Python objects is
// the one place where per-item Python work happens, so it is done here rather than in Python:
// plain ints take a C++ path (a direct table when the ids are small non-negative numbers, a
// hash map otherwise); any other hashable goes through a dict.
py::tuple encode_baskets(const py::handle& baskets_obj) {
  // The outer sequence through PySequence_Fast too: positions, not labels (a pandas Series of
  // lists indexes by label), and any iterable works.
  PyObject* outer_fast = PySequence_Fast(baskets_obj.ptr(), "baskets: expected a sequence of baskets");
  if (!outer_fast) throw py::error_already_set();
  py::object outer = py::reinterpret_steal<py::object>(outer_fast);
  const auto n = static_cast<int64_t>(PySequence_Fast_GET_SIZE(outer_fast));
  PyObject** rows = PySequence_Fast_ITEMS(outer_fast);
  std::vector<int64_t> indptr(static_cast<size_t>(n) + 1, 0);
  std::vector<PyObject*> basket_fast;  // owned references to PySequence_Fast results
  basket_fast.reserve(static_cast<size_t>(n));
  struct Release {
    std::vector<PyObject*>& objs;
    ~Release() {
      for (PyObject* o : objs) Py_DECREF(o);
    }
  } release{basket_fast};
  bool all_int = true;
  for (int64_t b = 0; b < n; ++b) {
    PyObject* row = rows[b];  // borrowed from `outer`
    if (PyUnicode_Check(row) || PyBytes_Check(row))
      fail("baskets: basket " + std::to_string(b) + " is a string; expected a list of item ids");
    PyObject* fast = PySequence_Fast(row, "baskets: every basket must be a sequence of item ids");
    if (!fast) throw py::error_already_set();
    basket_fast.push_back(fast);
    const Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    PyObject** elems = PySequence_Fast_ITEMS(fast);
    for (Py_ssize_t k = 0; k < len && all_int; ++k) all_int = PyLong_CheckExact(elems[k]);
    indptr[b + 1] = indptr[b] + len;
  }
  const int64_t nnz = indptr[n];
  std::vector<int32_t> codes(static_cast<size_t>(nnz));
  if (all_int) {
    std::vector<int64_t> values(static_cast<size_t>(nnz));
    int64_t p = 0;
    for (PyObject* fast : basket_fast) {
      const Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
      PyObject** elems = PySequence_Fast_ITEMS(fast);
      for (Py_ssize_t k = 0; k < len; ++k) {
        int overflow = 0;
        values[p++] = PyLong_AsLongLongAndOverflow(elems[k], &overflow);
        if (overflow) fail("baskets: an item id does not fit in 64 bits; pass such ids as strings");
      }
    }
    std::vector<int64_t> ids;
    auto lo = nnz ? *std::min_element(values.begin(), values.end()) : 0;
    auto hi = nnz ? *std::max_element(values.begin(), values.end()) : -1;
    if (lo >= 0 && hi < 4 * nnz + 1024) {
      std::vector<int32_t> table(static_cast<size_t>(hi + 1), -1);
      for (int64_t q = 0; q < nnz; ++q) {
        int32_t& c = table[values[q]];
        if (c < 0) {
          c = static_cast<int32_t>(ids.size());
          ids.push_back(values[q]);
        }
        codes[q] = c;
      }
    } else {
      std::unordered_map<int64_t, int32_t> table;
      for (int64_t q = 0; q < nnz; ++q) {
        auto [it, added] = table.emplace(values[q], static_cast<int32_t>(ids.size()));
        if (added) ids.push_back(values[q]);
        codes[q] = it->second;
      }
    }
    return py::make_tuple(to_numpy(std::move(indptr)), to_numpy(std::move(codes)), to_numpy(std::move(ids)));
  }
  py::dict table;
  py::list ids;
  int64_t p = 0;
  for (PyObject* fast : basket_fast) {
    const Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    PyObject** elems = PySequence_Fast_ITEMS(fast);
    for (Py_ssize_t k = 0; k < len; ++k) {
      PyObject* code = PyDict_GetItemWithError(table.ptr(), elems[k]);  // borrowed
      if (!code) {
        if (PyErr_Occurred()) throw py::error_already_set();  // unhashable id
        py::int_ fresh(py::len(ids));
        if (PyDict_SetItem(table.ptr(), elems[k], fresh.ptr()) < 0) throw py::error_already_set();
        ids.append(py::reinterpret_borrow<py::object>(elems[k]));
        codes[p++] = static_cast<int32_t>(py::len(ids) - 1);
      } else {
        codes[p++] = static_cast<int32_t>(PyLong_AsLong(code));
      }
    }
  }
  return py::make_tuple(to_numpy(std::move(indptr)), to_numpy(std::move(codes)), ids);
}

RuleMetric metric_arg(const std::string& name) {
  if (name == "support") return RuleMetric::support;
  if (name == "confidence") return RuleMetric::confidence;
  if (name == "lift") return RuleMetric::lift;
  if (name == "leverage") return RuleMetric::leverage;
  if (name == "conviction") return RuleMetric::conviction;
  fail("metric: expected one of support, confidence, lift, leverage, conviction; got '" + name + "'");
}

}  // namespace

CROSSREC_BINDINGS(itemsets) {
  m.def("encode_baskets", &encode_baskets, py::arg("baskets"),
        "(indptr int64, codes int32, ids) of a sequence of baskets of hashable ids; codes follow first "
        "appearance; ids is an int64 array when every id is an int, else a list.");

  m.def(
      "frequent_itemsets",
      [](const py::object& indptr, const py::object& indices, int64_t n_items, int64_t min_count, int64_t max_len,
         int64_t max_itemsets, const std::string& algorithm, int64_t threads_arg) {
        auto baskets = csr_arg(indptr, indices, py::none(), n_items, "baskets");
        require(min_count >= 1, "min_count: must be >= 1, got " + std::to_string(min_count));
        require(max_len >= 0, "max_len: must be >= 0 (0 = no limit), got " + std::to_string(max_len));
        max_len = std::min<int64_t>(max_len, std::max<int64_t>(n_items, 1));  // no itemset is longer
        require(max_itemsets >= 1, "max_itemsets: must be >= 1, got " + std::to_string(max_itemsets));
        // apriori_scan / apriori_bits pin Apriori's counting method (for tests); apriori picks per level.
        require(algorithm == "fpgrowth" || algorithm == "apriori" || algorithm == "apriori_scan" ||
                    algorithm == "apriori_bits",
                "algorithm: expected 'fpgrowth' or 'apriori', got '" + algorithm + "'");
        MiningParams params{min_count, static_cast<int>(max_len), max_itemsets, thread_arg(threads_arg),
                            algorithm == "apriori_scan"   ? 1
                            : algorithm == "apriori_bits" ? 2
                                                          : 0};
        // per-item counts and ranks, and the recoded baskets
        require_memory(n_items * 24.0 + baskets.view.nnz() * 8.0,
                       "frequent_itemsets (" + std::to_string(n_items) + " items)");
        ItemsetResult result;
        {
          py::gil_scoped_release release;
          baskets.validate(false);
          result = algorithm == "fpgrowth" ? fpgrowth(baskets.view, params) : apriori(baskets.view, params);
        }
        return py::make_tuple(to_numpy(std::move(result.offsets)), to_numpy(std::move(result.items)),
                              to_numpy(std::move(result.counts)));
      },
      py::arg("indptr"), py::arg("indices"), py::arg("n_items"), py::arg("min_count"), py::arg("max_len") = 0,
      py::arg("max_itemsets") = INT64_MAX, py::arg("algorithm") = "fpgrowth", py::arg("n_threads") = 0,
      "Frequent itemsets of a baskets x items CSR: (offsets int64, items int32 in mining order, counts "
      "int64). Raises ValueError past max_itemsets.");

  m.def(
      "sort_itemsets",
      [](const py::object& offsets_obj, const py::object& items_obj, int64_t threads_arg) {
        auto offsets = int64_array(offsets_obj, "offsets");
        auto items = index_array(items_obj, "items");
        const int64_t n = offsets.shape(0) - 1;
        require(n >= 0, "offsets: must have at least one entry");
        require(offsets.data()[n] == items.shape(0), "offsets: offsets[-1] != len(items)");
        const int n_threads = thread_arg(threads_arg);
        auto out = new_array<int32_t>({items.shape(0)});
        {
          py::gil_scoped_release release;
          if (offsets.data()[0] != 0) fail("offsets: offsets[0] must be 0");
          for (int64_t s = 0; s < n; ++s)
            if (offsets.data()[s + 1] < offsets.data()[s]) fail("offsets: decrease at itemset " + std::to_string(s));
          std::copy(items.data(), items.data() + items.shape(0), out.mutable_data());
          sort_itemsets(offsets.data(), n, out.mutable_data(), n_threads);
        }
        return out;
      },
      py::arg("offsets"), py::arg("items"), py::arg("n_threads") = 0,
      "A copy of items with each itemset's items sorted ascending.");

  m.def(
      "association_rules",
      [](const py::object& offsets_obj, const py::object& items_obj, const py::object& support_obj,
         const std::string& metric, double min_threshold, int64_t max_consequent, int64_t max_rules,
         int64_t threads_arg) {
        auto offsets = int64_array(offsets_obj, "offsets");
        auto items = index_array(items_obj, "items");
        require_float_kind(support_obj, "support");
        auto support = In<double>::ensure(support_obj);
        require_ndim(support, 1, "support");
        const int64_t n = offsets.shape(0) - 1;
        require(n >= 0, "offsets: must have at least one entry");
        require(offsets.data()[n] == items.shape(0), "offsets: offsets[-1] != len(items)");
        require(support.shape(0) == n,
                "support: length " + std::to_string(support.shape(0)) + " != number of itemsets " + std::to_string(n));
        require(!std::isnan(min_threshold), "min_threshold: must not be NaN");
        require(max_consequent >= 0, "max_consequent: must be >= 0 (0 = no limit)");
        require(max_rules >= 0, "max_rules: must be >= 0");
        const RuleMetric m_id = metric_arg(metric);
        const int n_threads = thread_arg(threads_arg);
        RuleResult rules;
        {
          py::gil_scoped_release release;
          validate_itemsets(offsets.data(), n, items.data(), support.data());
          rules = association_rules(offsets.data(), items.data(), support.data(), n, m_id, min_threshold,
                                    static_cast<int>(std::min<int64_t>(max_consequent, 64)), max_rules, n_threads);
        }
        return py::make_tuple(to_numpy(std::move(rules.itemset)), to_numpy(std::move(rules.antecedent_mask)),
                              to_numpy(std::move(rules.antecedent_support)),
                              to_numpy(std::move(rules.consequent_support)));
      },
      py::arg("offsets"), py::arg("items"), py::arg("support"), py::arg("metric") = "confidence",
      py::arg("min_threshold") = 0.8, py::arg("max_consequent") = 0, py::arg("max_rules") = INT64_MAX,
      py::arg("n_threads") = 0,
      "Rules X -> Y of the itemsets passing metric >= min_threshold: (itemset index, antecedent position mask "
      "uint64, antecedent support, consequent support).");

  m.def(
      "rule_scores",
      [](const py::object& b_indptr, const py::object& b_indices, int64_t n_items, const py::object& rows_obj,
         const py::object& a_indptr, const py::object& a_indices, const py::object& c_indptr,
         const py::object& c_indices, const py::object& weights_obj, bool sum_scores, int64_t threads_arg) {
        auto baskets = csr_arg(b_indptr, b_indices, py::none(), n_items, "baskets");
        auto rows = index_array(rows_obj, "rows");
        auto ante = csr_arg(a_indptr, a_indices, py::none(), n_items, "antecedents");
        auto cons = csr_arg(c_indptr, c_indices, py::none(), n_items, "consequents");
        require(ante.view.n_rows == cons.view.n_rows, "antecedents and consequents: rule counts differ");
        auto weights = float_vector(weights_obj, "weights");
        require(weights.shape(0) == ante.view.n_rows, "weights: length != number of rules");
        const int n_threads = thread_arg(threads_arg);
        require_memory(rows.shape(0) * 4.0 * n_items, "rule_scores output (" + std::to_string(rows.shape(0)) + " x " +
                                                          std::to_string(n_items) + " scores)");
        auto out = new_array<float>({rows.shape(0), static_cast<py::ssize_t>(n_items)});
        {
          py::gil_scoped_release release;
          baskets.validate(false);
          ante.validate(false);
          cons.validate(false);
          validate_indices(rows.data(), rows.shape(0), baskets.view.n_rows, "rows");
          for (int64_t k = 0; k < weights.shape(0); ++k)
            if (std::isnan(weights.data()[k])) fail("weights: NaN at rule " + std::to_string(k));
          rule_scores(baskets.view, rows.data(), rows.shape(0), ante.view, cons.view, weights.data(), sum_scores,
                      out.mutable_data(), n_threads);
        }
        return out;
      },
      py::arg("basket_indptr"), py::arg("basket_indices"), py::arg("n_items"), py::arg("rows"),
      py::arg("antecedent_indptr"), py::arg("antecedent_indices"), py::arg("consequent_indptr"),
      py::arg("consequent_indices"), py::arg("weights"), py::arg("sum_scores") = false, py::arg("n_threads") = 0,
      "Scores (len(rows), n_items): max (or sum) of the weights of the rules each basket row triggers, per "
      "consequent item; -inf where none fires.");
}

}  // namespace crossrec::bind
