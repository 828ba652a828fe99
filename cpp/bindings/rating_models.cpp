// Bindings for the rating models Surprise has and crossrec lacked: SVD++, NMF, Slope One and
// co-clustering (crossrec/svdpp.hpp, nmf.hpp, slope_one.hpp, coclustering.hpp).
#include <cmath>
#include <optional>

#include "common.hpp"
#include "crossrec/coclustering.hpp"
#include "crossrec/nmf.hpp"
#include "crossrec/slope_one.hpp"
#include "crossrec/svdpp.hpp"
#include "crossrec/work_size.hpp"
#include "factor_args.hpp"

namespace crossrec::bind {
namespace {

// An int32 array the kernel updates in place (cluster assignments): exact dtype, no copy.
InOut<int32_t> inplace_int_array(const py::object& obj, const std::string& name, int64_t length) {
  require(py::isinstance<py::array>(obj), name + ": expected an int32 numpy array (updated in place)");
  py::array a = py::reinterpret_borrow<py::array>(obj);
  require(a.dtype().is(py::dtype::of<int32_t>()),
          name + ": must be int32 (it is updated in place), got " + std::string(py::str(a.dtype())));
  require(a.ndim() == 1 && a.shape(0) == length, name + ": expected a 1-D array of length " + std::to_string(length));
  require((a.flags() & py::array::c_style) != 0 && a.writeable(), name + ": must be C-contiguous and writeable");
  return py::reinterpret_borrow<InOut<int32_t>>(a);
}

In<double> double_vector(const py::object& obj, const std::string& name, int64_t length) {
  require_float_kind(obj, name);
  auto a = In<double>::ensure(obj);
  require(a.ndim() == 1 && a.shape(0) == length, name + ": expected a 1-D array of length " + std::to_string(length));
  return a;
}

// Caller-given double vectors (means, averages) must be finite: a NaN would spread silently.
void validate_finite_doubles(const double* x, int64_t n, const std::string& name) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) fail(name + ": holds a NaN or infinite value at position " + std::to_string(i));
}

void require_finite_rate(double x, const std::string& name, bool positive) {
  require(std::isfinite(x) && (positive ? x > 0.0 : x >= 0.0),
          name + ": must be finite and " + (positive ? "> 0" : ">= 0") + ", got " + std::to_string(x));
}

// Optional visiting order of the users: indices in [0, n_users), checked with the GIL released.
std::optional<In<int32_t>> order_arg(const py::object& obj, int64_t n_users) {
  if (obj.is_none()) return std::nullopt;
  auto a = index_array(obj, "user_order");
  require(a.shape(0) <= n_users, "user_order: longer than the number of users");
  return a;
}

// Checks that every value of a position array is in [0, bound).
void validate_range(const int64_t* x, int64_t n, int64_t bound, const std::string& name) {
  for (int64_t k = 0; k < n; ++k)
    if (x[k] < 0 || x[k] >= bound)
      fail(name + ": value " + std::to_string(x[k]) + " out of range [0, " + std::to_string(bound) + ")");
}

// The item-major copy of a ratings matrix, and the position in the user-major one of each entry.
struct ByItem {
  CsrArg m;
  std::optional<In<int64_t>> pos;
};

ByItem by_item_arg(const py::object& indptr, const py::object& indices, const py::object& data, const py::object& pos,
                   const CsrArg& ratings) {
  ByItem b{csr_arg(indptr, indices, data, ratings.view.n_rows, "by_item"), std::nullopt};
  require(b.m.view.n_rows == ratings.view.n_cols, "by_item: expected one row per item (" +
                                                      std::to_string(ratings.view.n_cols) + "), got " +
                                                      std::to_string(b.m.view.n_rows));
  require(b.m.view.nnz() == ratings.view.nnz(), "by_item: must hold the same entries as the ratings");
  require(b.m.data.has_value(), "by_item: needs the ratings");
  if (!pos.is_none()) {
    py::array p = py::array::ensure(pos);
    require(static_cast<bool>(p) && (p.dtype().kind() == 'i' || p.dtype().kind() == 'u'),
            "item_pos: expected an integer array");
    b.pos = In<int64_t>::ensure(p);
    require(b.pos->ndim() == 1 && b.pos->shape(0) == b.m.view.nnz(), "item_pos: expected one entry per rating");
  }
  return b;
}

void validate_by_item(const ByItem& b) {
  b.m.validate();
  if (b.pos) validate_range(b.pos->data(), b.pos->shape(0), b.m.view.nnz(), "item_pos");
}

}  // namespace

CROSSREC_BINDINGS(rating_models) {
  m.def(
      "svdpp_epoch",
      [](const py::object& indptr, const py::object& indices, const py::object& data, const py::object& user_order,
         const py::object& P_obj, const py::object& Q_obj, const py::object& Y_obj, const py::object& bu_obj,
         const py::object& bi_obj, double global_mean, std::array<double, 5> lr, std::array<double, 5> reg) {
        require(!data.is_none(), "matrix.data: SVD++ needs the ratings");
        require(std::isfinite(global_mean), "global_mean: must be finite");
        auto P = inplace_matrix(P_obj, "P");
        auto Q = inplace_matrix(Q_obj, "Q");
        auto Y = inplace_matrix(Y_obj, "Y");
        auto bu = inplace_array(bu_obj, "user_bias", 1);
        auto bi = inplace_array(bi_obj, "item_bias", 1);
        const int64_t f = P.shape(1);
        require(f >= 1, "P: needs at least one factor column");
        require(Q.shape(1) == f && Y.shape(1) == f, "P, Q, Y: factor counts differ");
        require(Q.shape(0) == Y.shape(0), "Q and Y: need one row per item each");
        require(bu.shape(0) == P.shape(0), "user_bias: expected length " + std::to_string(P.shape(0)));
        require(bi.shape(0) == Q.shape(0), "item_bias: expected length " + std::to_string(Q.shape(0)));
        require_disjoint(P, Q, "P", "Q");
        require_disjoint(P, Y, "P", "Y");
        require_disjoint(Q, Y, "Q", "Y");
        require_disjoint(bu, bi, "user_bias", "item_bias");
        auto mat = csr_arg(indptr, indices, data, Q.shape(0), "matrix");
        require(mat.view.n_rows == P.shape(0),
                "P: has " + std::to_string(P.shape(0)) + " rows but the matrix has " + std::to_string(mat.view.n_rows));
        const char* names[5] = {"lr_bu", "lr_bi", "lr_pu", "lr_qi", "lr_yj"};
        const char* reg_names[5] = {"reg_bu", "reg_bi", "reg_pu", "reg_qi", "reg_yj"};
        for (int k = 0; k < 5; ++k) {
          require_finite_rate(lr[k], names[k], true);
          require_finite_rate(reg[k], reg_names[k], false);
        }
        auto order = order_arg(user_order, mat.view.n_rows);
        SvdppParams prm{lr[0], lr[1], lr[2], lr[3], lr[4], reg[0], reg[1], reg[2], reg[3], reg[4]};
        SvdppState st{P.mutable_data(), Q.mutable_data(), Y.mutable_data(), bu.mutable_data(), bi.mutable_data(), f};
        double sse;
        {
          py::gil_scoped_release release;
          mat.validate();
          if (order) validate_indices(order->data(), order->shape(0), mat.view.n_rows, "user_order");
          validate_finite(P.data(), P.size(), "P");
          validate_finite(Q.data(), Q.size(), "Q");
          validate_finite(Y.data(), Y.size(), "Y");
          validate_finite(bu.data(), bu.size(), "user_bias");
          validate_finite(bi.data(), bi.size(), "item_bias");
          sse =
              svdpp_epoch(mat.view, order ? order->data() : nullptr, order ? order->shape(0) : 0, global_mean, st, prm);
        }
        return sse;
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("user_order"), py::arg("P"), py::arg("Q"),
      py::arg("Y"), py::arg("user_bias"), py::arg("item_bias"), py::arg("global_mean"), py::arg("learning_rates"),
      py::arg("regularizations"),
      "One sequential SGD epoch of SVD++ (Surprise's update rules); learning_rates and regularizations are\n"
      "(bu, bi, pu, qi, yj). Updates P, Q, Y and the biases in place; returns the sum of squared errors.");

  m.def(
      "svdpp_user_vectors",
      [](const py::object& indptr, const py::object& indices, const py::object& P_obj, const py::object& Y_obj,
         int64_t threads_arg, double min_work) {
        const int n_threads = thread_arg(threads_arg);
        auto P = float_matrix(P_obj, "P");
        auto Y = float_matrix(Y_obj, "Y");
        require(P.shape(1) == Y.shape(1), "P and Y: factor counts differ");
        auto mat = csr_arg(indptr, indices, py::none(), Y.shape(0), "matrix");
        require(mat.view.n_rows == P.shape(0), "P: expected one row per user of the matrix");
        auto out = new_array<float>({P.shape(0), P.shape(1)});
        float* o = out.mutable_data();
        {
          py::gil_scoped_release release;
          mat.validate();
          svdpp_user_vectors(mat.view, P.data(), Y.data(), P.shape(1), o, n_threads, min_work);
        }
        return out;
      },
      py::arg("indptr"), py::arg("indices"), py::arg("P"), py::arg("Y"), py::arg("n_threads") = 0,
      py::arg("min_work") = kMinParallelWork,
      "p_u + |I_u|^-1/2 sum_{j in I_u} y_j for every user (zeros for users without ratings).");

  m.def(
      "nmf_epochs",
      [](int64_t n_epochs, const py::object& indptr, const py::object& indices, const py::object& data,
         const py::object& item_indptr, const py::object& item_indices, const py::object& item_data,
         const py::object& item_pos, const py::object& user_order, const py::object& P_obj, const py::object& Q_obj,
         const py::object& bu_obj, const py::object& bi_obj, double global_mean, double reg_pu, double reg_qi,
         double reg_bu, double reg_bi, double lr_bu, double lr_bi, int64_t threads_arg, double min_work) {
        const int n_threads = thread_arg(threads_arg);
        require(n_epochs >= 1, "n_epochs: must be >= 1");
        require(!data.is_none(), "matrix.data: NMF needs the ratings");
        require(std::isfinite(global_mean), "global_mean: must be finite");
        auto P = inplace_matrix(P_obj, "P");
        auto Q = inplace_matrix(Q_obj, "Q");
        require(P.shape(1) >= 1 && Q.shape(1) == P.shape(1), "P and Q: need the same number (>= 1) of factors");
        require_disjoint(P, Q, "P", "Q");
        auto mat = csr_arg(indptr, indices, data, Q.shape(0), "matrix");
        require(mat.view.n_rows == P.shape(0), "P: expected one row per user of the matrix");
        auto by = by_item_arg(item_indptr, item_indices, item_data, item_pos, mat);
        require(by.pos.has_value(), "item_pos: required");
        require(bu_obj.is_none() == bi_obj.is_none(), "user_bias and item_bias: give both or neither");
        std::optional<InOut<float>> bu, bi;
        if (!bu_obj.is_none()) {
          bu = inplace_array(bu_obj, "user_bias", 1);
          bi = inplace_array(bi_obj, "item_bias", 1);
          require(bu->shape(0) == P.shape(0) && bi->shape(0) == Q.shape(0), "user_bias, item_bias: wrong length");
          require_disjoint(*bu, *bi, "user_bias", "item_bias");
        }
        for (auto [x, name] : {std::pair{reg_pu, "reg_pu"}, {reg_qi, "reg_qi"}, {reg_bu, "reg_bu"}, {reg_bi, "reg_bi"}})
          require_finite_rate(x, name, false);
        require_finite_rate(lr_bu, "lr_bu", true);
        require_finite_rate(lr_bi, "lr_bi", true);
        auto order = order_arg(user_order, mat.view.n_rows);
        NmfParams prm{reg_pu, reg_qi, reg_bu, reg_bi, lr_bu, lr_bi, bu.has_value()};
        double sse;
        {
          py::gil_scoped_release release;
          mat.validate();
          validate_by_item(by);
          if (order) validate_indices(order->data(), order->shape(0), mat.view.n_rows, "user_order");
          validate_finite(P.data(), P.size(), "P");
          validate_finite(Q.data(), Q.size(), "Q");
          sse = nmf_epochs(n_epochs, mat.view, by.m.view, by.pos->data(), order ? order->data() : nullptr,
                           order ? order->shape(0) : 0, global_mean, P.mutable_data(), Q.mutable_data(),
                           bu ? bu->mutable_data() : nullptr, bi ? bi->mutable_data() : nullptr, P.shape(1), prm,
                           n_threads, min_work);
        }
        return sse;
      },
      py::arg("n_epochs"), py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("item_indptr"),
      py::arg("item_indices"), py::arg("item_data"), py::arg("item_pos"), py::arg("user_order"), py::arg("P"),
      py::arg("Q"), py::arg("user_bias") = py::none(), py::arg("item_bias") = py::none(), py::arg("global_mean") = 0.0,
      py::arg("reg_pu") = 0.06, py::arg("reg_qi") = 0.06, py::arg("reg_bu") = 0.02, py::arg("reg_bi") = 0.02,
      py::arg("lr_bu") = 0.005, py::arg("lr_bi") = 0.005, py::arg("n_threads") = 0,
      py::arg("min_work") = kMinParallelWork,
      "n_epochs epochs of Surprise's NMF (multiplicative updates; SGD biases when given). Updates P, Q (and\n"
      "the biases) in place; returns the sum of squared errors of the last epoch.");

  m.def(
      "slope_one_fit",
      [](const py::object& indptr, const py::object& indices, const py::object& data, const py::object& item_indptr,
         const py::object& item_indices, const py::object& item_data, int64_t n_items, int64_t threads_arg,
         double min_work) {
        const int n_threads = thread_arg(threads_arg);
        require(!data.is_none(), "matrix.data: Slope One needs the ratings");
        auto mat = csr_arg(indptr, indices, data, n_items, "matrix");
        auto by = by_item_arg(item_indptr, item_indices, item_data, py::none(), mat);
        SlopeOneTable t;
        {
          py::gil_scoped_release release;
          mat.validate();
          validate_by_item(by);
          validate_sorted_unique(mat.view, "matrix");  // each co-rated pair counted once
          validate_sorted_unique(by.m.view, "by_item");
          t = slope_one_fit(mat.view, by.m.view, n_threads, min_work);
        }
        auto as_array = [](auto& v) {
          using T = typename std::decay_t<decltype(v)>::value_type;
          py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
          std::copy(v.begin(), v.end(), a.mutable_data());
          return a;
        };
        return py::make_tuple(as_array(t.indptr), as_array(t.indices), as_array(t.dev), as_array(t.freq));
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("item_indptr"), py::arg("item_indices"),
      py::arg("item_data"), py::arg("n_items"), py::arg("n_threads") = 0, py::arg("min_work") = kMinParallelWork,
      "The item x item Slope One table (indptr, indices, dev, freq) over co-rated pairs, rows sorted.");

  auto slope_model = [](const CsrArg& table, const In<int32_t>& freq, const CsrArg& ratings, const In<double>& mean,
                        const In<int32_t>& count, double global_mean, bool weighted) {
    return SlopeOneModel{table.view, freq.data(), ratings.view, mean.data(), count.data(), global_mean, weighted};
  };
  struct SlopeArgs {
    CsrArg table, ratings;
    In<int32_t> freq, count;
    In<double> mean;
  };
  auto slope_args = [](const py::object& t_indptr, const py::object& t_indices, const py::object& dev,
                       const py::object& freq, const py::object& indptr, const py::object& indices,
                       const py::object& data, const py::object& user_mean, const py::object& item_count,
                       double global_mean) {
    require(std::isfinite(global_mean), "global_mean: must be finite");
    require(!data.is_none() && !dev.is_none(), "ratings and dev: values required");
    SlopeArgs a{csr_arg(t_indptr, t_indices, dev, 0, "table"), {}, {}, {}, {}};
    a.table.view.n_cols = a.table.view.n_rows;  // square: items x items
    a.ratings = csr_arg(indptr, indices, data, a.table.view.n_rows, "matrix");
    a.freq = index_array(freq, "freq");
    require(a.freq.shape(0) == a.table.view.nnz(), "freq: expected one per table entry");
    a.count = index_array(item_count, "item_count");
    require(a.count.shape(0) == a.table.view.n_rows, "item_count: expected one per item");
    a.mean = double_vector(user_mean, "user_mean", a.ratings.view.n_rows);
    return a;
  };
  auto validate_slope = [](const SlopeArgs& a) {
    a.table.validate();
    a.ratings.validate();
    validate_finite_doubles(a.mean.data(), a.mean.shape(0), "user_mean");
    // Slope One binary-searches the table's and the ratings' rows (SVD++ and NMF take rows in any
    // order on purpose: the within-row order is their SGD visiting order)
    validate_sorted_unique(a.table.view, "table");
    validate_sorted_unique(a.ratings.view, "matrix");
  };

  m.def(
      "slope_one_predict",
      [=](const py::object& t_indptr, const py::object& t_indices, const py::object& dev, const py::object& freq,
          const py::object& indptr, const py::object& indices, const py::object& data, const py::object& user_mean,
          const py::object& item_count, double global_mean, bool weighted, const py::object& users_obj,
          const py::object& items_obj, bool clip, double lo, double hi, int64_t threads_arg, double min_work) {
        const int n_threads = thread_arg(threads_arg);
        auto a = slope_args(t_indptr, t_indices, dev, freq, indptr, indices, data, user_mean, item_count, global_mean);
        auto users = index_array(users_obj, "users");
        auto items = index_array(items_obj, "items");
        require(users.shape(0) == items.shape(0), "users and items: lengths differ");
        if (clip) require(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, "clip bounds: need finite lo <= hi");
        auto out = new_array<float>({users.shape(0)});
        float* o = out.mutable_data();
        {
          py::gil_scoped_release release;
          validate_slope(a);
          validate_indices(users.data(), users.shape(0), a.ratings.view.n_rows, "users");
          validate_indices(items.data(), items.shape(0), a.table.view.n_rows, "items");
          slope_one_predict(slope_model(a.table, a.freq, a.ratings, a.mean, a.count, global_mean, weighted),
                            users.data(), items.data(), users.shape(0), clip, lo, hi, o, n_threads, min_work);
        }
        return out;
      },
      py::arg("table_indptr"), py::arg("table_indices"), py::arg("dev"), py::arg("freq"), py::arg("indptr"),
      py::arg("indices"), py::arg("data"), py::arg("user_mean"), py::arg("item_count"), py::arg("global_mean"),
      py::arg("weighted"), py::arg("users"), py::arg("items"), py::arg("clip") = true, py::arg("lo") = 1.0,
      py::arg("hi") = 5.0, py::arg("n_threads") = 0, py::arg("min_work") = kMinParallelWork,
      "Slope One predictions of (users[k], items[k]).");

  m.def(
      "slope_one_scores",
      [=](const py::object& t_indptr, const py::object& t_indices, const py::object& dev, const py::object& freq,
          const py::object& indptr, const py::object& indices, const py::object& data, const py::object& user_mean,
          const py::object& item_count, double global_mean, bool weighted, const py::object& users_obj,
          int64_t threads_arg, double min_work) {
        const int n_threads = thread_arg(threads_arg);
        auto a = slope_args(t_indptr, t_indices, dev, freq, indptr, indices, data, user_mean, item_count, global_mean);
        auto users = index_array(users_obj, "users");
        auto out = new_array<float>({users.shape(0), static_cast<py::ssize_t>(a.table.view.n_rows)});
        float* o = out.mutable_data();
        {
          py::gil_scoped_release release;
          validate_slope(a);
          validate_indices(users.data(), users.shape(0), a.ratings.view.n_rows, "users");
          slope_one_scores(slope_model(a.table, a.freq, a.ratings, a.mean, a.count, global_mean, weighted),
                           users.data(), users.shape(0), o, n_threads, min_work);
        }
        return out;
      },
      py::arg("table_indptr"), py::arg("table_indices"), py::arg("dev"), py::arg("freq"), py::arg("indptr"),
      py::arg("indices"), py::arg("data"), py::arg("user_mean"), py::arg("item_count"), py::arg("global_mean"),
      py::arg("weighted"), py::arg("users"), py::arg("n_threads") = 0, py::arg("min_work") = kMinParallelWork,
      "Unclipped Slope One estimates of every item for the given users: (len(users), n_items).");

  m.def(
      "coclustering_averages",
      [](const py::object& indptr, const py::object& indices, const py::object& data, int64_t n_items,
         const py::object& cu_obj, const py::object& ci_obj, int n_cltr_u, int n_cltr_i, double global_mean,
         int64_t threads_arg, double min_work) {
        const int n_threads = thread_arg(threads_arg);
        require(n_cltr_u >= 1 && n_cltr_i >= 1, "n_cltr_u, n_cltr_i: must be >= 1");
        require(std::isfinite(global_mean), "global_mean: must be finite");
        require(!data.is_none(), "matrix.data: co-clustering needs the ratings");
        auto mat = csr_arg(indptr, indices, data, n_items, "matrix");
        auto cu = index_array(cu_obj, "cltr_u");
        auto ci = index_array(ci_obj, "cltr_i");
        require(cu.shape(0) == mat.view.n_rows, "cltr_u: expected one cluster per user");
        require(ci.shape(0) == n_items, "cltr_i: expected one cluster per item");
        {
          // outputs plus the kernel's per-block partial sums (6 per cluster cell, one set per 256 users)
          const double cells = double(n_cltr_u) + n_cltr_i + double(n_cltr_u) * n_cltr_i;
          const double blocks = std::ceil(double(mat.view.n_rows) / 256.0);
          require_memory(8.0 * cells * (1.0 + 2.0 * blocks + 2.0), "coclustering_averages(n_cltr_u, n_cltr_i)");
        }
        auto au = new_array<double>({n_cltr_u});
        auto ai = new_array<double>({n_cltr_i});
        auto ac = new_array<double>({n_cltr_u, n_cltr_i});
        CoclusterAverages out{au.mutable_data(), ai.mutable_data(), ac.mutable_data()};
        {
          py::gil_scoped_release release;
          mat.validate();
          validate_indices(cu.data(), cu.shape(0), n_cltr_u, "cltr_u");
          validate_indices(ci.data(), ci.shape(0), n_cltr_i, "cltr_i");
          coclustering_averages(mat.view, cu.data(), ci.data(), n_cltr_u, n_cltr_i, global_mean, out, n_threads,
                                min_work);
        }
        return py::make_tuple(au, ai, ac);
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("n_items"), py::arg("cltr_u"), py::arg("cltr_i"),
      py::arg("n_cltr_u"), py::arg("n_cltr_i"), py::arg("global_mean"), py::arg("n_threads") = 0,
      py::arg("min_work") = kMinParallelWork,
      "Mean ratings of user clusters, item clusters and co-clusters (global mean when empty).");

  m.def(
      "coclustering_assign",
      [](const py::object& indptr, const py::object& indices, const py::object& data, const py::object& item_indptr,
         const py::object& item_indices, const py::object& item_data, const py::object& user_mean_obj,
         const py::object& item_mean_obj, const py::object& cu_obj, const py::object& ci_obj, const py::object& au_obj,
         const py::object& ai_obj, const py::object& ac_obj, int64_t threads_arg, double min_work) {
        const int n_threads = thread_arg(threads_arg);
        require(!data.is_none(), "matrix.data: co-clustering needs the ratings");
        auto item_rows = py::array::ensure(item_indptr);
        require(static_cast<bool>(item_rows) && item_rows.ndim() == 1 && item_rows.shape(0) >= 1,
                "item_indptr: expected a 1-D array");
        const int64_t n_items = item_rows.shape(0) - 1;
        auto mat = csr_arg(indptr, indices, data, n_items, "matrix");
        auto by = by_item_arg(item_indptr, item_indices, item_data, py::none(), mat);
        auto user_mean = double_vector(user_mean_obj, "user_mean", mat.view.n_rows);
        auto item_mean = double_vector(item_mean_obj, "item_mean", n_items);
        auto cu = inplace_int_array(cu_obj, "cltr_u", mat.view.n_rows);
        auto ci = inplace_int_array(ci_obj, "cltr_i", n_items);
        require_float_kind(au_obj, "user_avg");
        auto ac = In<double>::ensure(ac_obj);
        require(ac && ac.ndim() == 2 && ac.shape(0) >= 1 && ac.shape(1) >= 1, "cocluster_avg: expected a 2-D array");
        const int n_cltr_u = static_cast<int>(ac.shape(0)), n_cltr_i = static_cast<int>(ac.shape(1));
        auto au = double_vector(au_obj, "user_avg", n_cltr_u);
        auto ai = double_vector(ai_obj, "item_avg", n_cltr_i);
        int64_t moved;
        {
          py::gil_scoped_release release;
          mat.validate();
          validate_by_item(by);
          validate_indices(cu.data(), cu.shape(0), n_cltr_u, "cltr_u");
          validate_indices(ci.data(), ci.shape(0), n_cltr_i, "cltr_i");
          validate_finite_doubles(user_mean.data(), user_mean.shape(0), "user_mean");
          validate_finite_doubles(item_mean.data(), item_mean.shape(0), "item_mean");
          validate_finite_doubles(au.data(), au.shape(0), "user_avg");
          validate_finite_doubles(ai.data(), ai.shape(0), "item_avg");
          validate_finite_doubles(ac.data(), ac.size(), "cocluster_avg");
          moved = coclustering_assign(mat.view, by.m.view, user_mean.data(), item_mean.data(), cu.mutable_data(),
                                      ci.mutable_data(), n_cltr_u, n_cltr_i, au.data(), ai.data(), ac.data(), n_threads,
                                      min_work);
        }
        return moved;
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("item_indptr"), py::arg("item_indices"),
      py::arg("item_data"), py::arg("user_mean"), py::arg("item_mean"), py::arg("cltr_u"), py::arg("cltr_i"),
      py::arg("user_avg"), py::arg("item_avg"), py::arg("cocluster_avg"), py::arg("n_threads") = 0,
      py::arg("min_work") = kMinParallelWork,
      "One co-clustering reassignment (users, then items); updates cltr_u and cltr_i in place and returns\n"
      "how many moved.");
}

}  // namespace crossrec::bind
