// Bindings for the distillation epoch and its per-user gradient (the latter for tests).
#include "crossrec/distill.hpp"

#include "common.hpp"

namespace crossrec::bind {
namespace {

// A float32 array the kernel updates in place: exact dtype, C order, writeable; never copied.
py::array_t<float> inout_float(const py::object& obj, const std::string& name, int ndim) {
  require(py::isinstance<py::array>(obj), name + ": expected a numpy array");
  py::array arr = py::reinterpret_borrow<py::array>(obj);
  require(arr.dtype().is(py::dtype::of<float>()),
          name + ": expected float32 (updated in place, so it is never converted), got dtype " +
              std::string(py::str(arr.dtype())));
  require_ndim(arr, ndim, name);
  require(arr.flags() & py::array::c_style, name + ": must be C-contiguous");
  require(arr.writeable(), name + ": must be writeable");
  return py::reinterpret_borrow<py::array_t<float>>(obj);
}

GroundTruth ground_truth_arg(const std::string& s) {
  if (s == "none") return GroundTruth::none;
  if (s == "bpr") return GroundTruth::bpr;
  if (s == "squared") return GroundTruth::squared;
  fail("ground_truth: expected 'bpr', 'squared' or 'none', got '" + s + "'");
}

DistillLoss loss_arg(const std::string& s) {
  if (s == "none") return DistillLoss::none;
  if (s == "pointwise") return DistillLoss::pointwise;
  if (s == "ranking") return DistillLoss::ranking;
  if (s == "listwise") return DistillLoss::listwise;
  fail("loss: expected 'pointwise', 'ranking', 'listwise' or 'none', got '" + s + "'");
}

void require_finite_number(double x, const std::string& name) { require(std::isfinite(x), name + ": must be finite"); }

// Teacher rows: items in [-1, n_items), -1 only as tail padding, finite scores where items >= 0.
void validate_teacher(const TeacherView& t, int64_t n_items) {
  for (int64_t u = 0; u < t.n_rows; ++u) {
    bool padding = false;
    for (int64_t j = 0; j < t.k; ++j) {
      const int32_t item = t.items[u * t.k + j];
      if (item < -1 || item >= n_items)
        fail("teacher_items: item " + std::to_string(item) + " at row " + std::to_string(u) + " out of range [0, " +
             std::to_string(n_items) + ") (-1 marks padding)");
      if (item == -1) {
        padding = true;
      } else {
        if (padding) fail("teacher_items: row " + std::to_string(u) + " has an item after -1 padding");
        if (!std::isfinite(t.scores[u * t.k + j]))
          fail("teacher_scores: NaN or infinite score at row " + std::to_string(u) + ", column " + std::to_string(j));
        if (t.weights && !(std::isfinite(t.weights[u * t.k + j]) && t.weights[u * t.k + j] >= 0))
          fail("teacher_weights: negative, NaN or infinite weight at row " + std::to_string(u) + ", column " +
               std::to_string(j));
      }
    }
  }
  validate_finite(t.rest, t.n_rows, "teacher_rest");
}

struct TeacherArg {
  In<int32_t> items;
  In<float> scores;
  In<float> rest;
  std::optional<In<float>> weights;
  TeacherView view;
};

TeacherArg teacher_arg(const py::object& items, const py::object& scores, const py::object& rest,
                       const py::object& weights, int64_t n_users) {
  TeacherArg t{index_array(items, "teacher_items", 2),
               float_matrix(scores, "teacher_scores"),
               float_vector(rest, "teacher_rest"),
               std::nullopt,
               {}};
  require(t.items.shape(0) == n_users, "teacher_items: " + std::to_string(t.items.shape(0)) +
                                           " rows, expected one per user (" + std::to_string(n_users) + ")");
  require(t.scores.shape(0) == t.items.shape(0) && t.scores.shape(1) == t.items.shape(1),
          "teacher_scores: shape must equal teacher_items' shape");
  require(t.rest.shape(0) == n_users,
          "teacher_rest: length " + std::to_string(t.rest.shape(0)) + " != number of users " + std::to_string(n_users));
  if (!weights.is_none()) {
    t.weights = float_matrix(weights, "teacher_weights");
    require(t.weights->shape(0) == t.items.shape(0) && t.weights->shape(1) == t.items.shape(1),
            "teacher_weights: shape must equal teacher_items' shape");
  }
  t.view = TeacherView{t.items.data(),   t.scores.data(), t.rest.data(), t.weights ? t.weights->data() : nullptr,
                       t.items.shape(0), t.items.shape(1)};
  return t;
}

}  // namespace

CROSSREC_BINDINGS(distill) {
  m.def(
      "distill_epoch",
      [](const py::object& indptr, const py::object& indices, const py::object& data, const py::object& teacher_items,
         const py::object& teacher_scores, const py::object& teacher_rest, const py::object& teacher_weights,
         const py::object& user_factors, const py::object& item_factors, const py::object& item_bias,
         const py::object& user_bias, const std::string& ground_truth, const std::string& loss, double alpha,
         double temperature, double learning_rate, double regularization, double global_mean, int64_t n_samples,
         int64_t n_negatives, uint64_t seed, int64_t epoch, int64_t threads_arg) {
        DistillOptions o;
        o.ground_truth = ground_truth_arg(ground_truth);
        o.loss = loss_arg(loss);
        require(alpha >= 0.0 && alpha <= 1.0, "alpha: must be in [0, 1], got " + std::to_string(alpha));
        require(temperature > 0.0 && std::isfinite(temperature), "temperature: must be > 0 and finite");
        require(learning_rate > 0.0 && std::isfinite(learning_rate), "learning_rate: must be > 0 and finite");
        require(regularization >= 0.0 && std::isfinite(regularization), "regularization: must be >= 0 and finite");
        require_finite_number(global_mean, "global_mean");
        // n_samples only caps the teacher's list (min(k, n_samples)); n_negatives is work per user.
        n_samples = std::min<int64_t>(count_arg(std::min<int64_t>(n_samples, INT32_MAX), "n_samples", 1), INT32_MAX);
        count_arg(n_negatives, "n_negatives", 0, 1 << 20);
        require(epoch >= 0, "epoch: must be >= 0");
        const int n_threads = thread_arg(threads_arg);
        o.alpha = static_cast<float>(alpha);
        o.temperature = static_cast<float>(temperature);
        o.learning_rate = static_cast<float>(learning_rate);
        o.regularization = static_cast<float>(regularization);
        o.global_mean = static_cast<float>(global_mean);
        o.n_samples = static_cast<int>(n_samples);
        o.n_negatives = static_cast<int>(n_negatives);
        o.seed = seed;
        o.epoch = epoch;

        auto P = inout_float(user_factors, "user_factors", 2);
        auto Q = inout_float(item_factors, "item_factors", 2);
        require(P.shape(1) == Q.shape(1), "user_factors and item_factors: factor counts differ (" +
                                              std::to_string(P.shape(1)) + " vs " + std::to_string(Q.shape(1)) + ")");
        require(P.shape(1) >= 1, "user_factors: need at least one factor");
        const int64_t n_users = P.shape(0), n_items = Q.shape(0);
        require(n_items >= 1, "item_factors: need at least one item");
        std::optional<py::array_t<float>> b, c;
        if (!item_bias.is_none()) {
          b = inout_float(item_bias, "item_bias", 1);
          require(b->shape(0) == n_items, "item_bias: length must equal the number of items");
        }
        if (!user_bias.is_none()) {
          c = inout_float(user_bias, "user_bias", 1);
          require(c->shape(0) == n_users, "user_bias: length must equal the number of users");
        }
        CsrArg train = csr_arg(indptr, indices, data, n_items, "train");
        require(train.view.n_rows == n_users, "train: " + std::to_string(train.view.n_rows) +
                                                  " rows, expected one per user (" + std::to_string(n_users) + ")");
        require(o.ground_truth != GroundTruth::squared || train.view.data, "train: squared error needs ratings (data)");
        TeacherArg teacher = teacher_arg(teacher_items, teacher_scores, teacher_rest, teacher_weights, n_users);

        StudentView s{P.mutable_data(),
                      Q.mutable_data(),
                      b ? b->mutable_data() : nullptr,
                      c ? c->mutable_data() : nullptr,
                      n_users,
                      n_items,
                      P.shape(1)};
        {
          py::gil_scoped_release release;
          train.validate();
          validate_sorted_unique(train.view, "train");
          validate_teacher(teacher.view, n_items);
          validate_finite(s.user_factors, n_users * s.n_factors, "user_factors");
          validate_finite(s.item_factors, n_items * s.n_factors, "item_factors");
          if (s.item_bias) validate_finite(s.item_bias, n_items, "item_bias");
          if (s.user_bias) validate_finite(s.user_bias, n_users, "user_bias");
          distill_epoch(train.view, teacher.view, s, o, n_threads);
        }
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("teacher_items"), py::arg("teacher_scores"),
      py::arg("teacher_rest"), py::arg("teacher_weights"), py::arg("user_factors"), py::arg("item_factors"),
      py::arg("item_bias") = py::none(), py::arg("user_bias") = py::none(), py::arg("ground_truth") = "bpr",
      py::arg("loss") = "ranking", py::arg("alpha") = 0.5, py::arg("temperature") = 2.0,
      py::arg("learning_rate") = 0.05, py::arg("regularization") = 0.01, py::arg("global_mean") = 0.0,
      py::arg("n_samples") = 16, py::arg("n_negatives") = 16, py::arg("seed") = 0, py::arg("epoch") = 0,
      py::arg("n_threads") = 0,
      "One SGD epoch of ground truth + alpha * distillation; updates the factor arrays in place.");

  m.def(
      "distill_rank_weights",
      [](const py::object& items_obj, const py::object& scores_obj, double temperature) {
        auto items = index_array(items_obj, "teacher_items", 2);
        auto scores = float_matrix(scores_obj, "teacher_scores");
        require(scores.shape(0) == items.shape(0) && scores.shape(1) == items.shape(1),
                "teacher_scores: shape must equal teacher_items' shape");
        require(temperature > 0.0 && std::isfinite(temperature), "temperature: must be > 0 and finite");
        const int64_t n = items.shape(0), k = items.shape(1);
        auto out = new_array<float>({n, k});
        float* w = out.mutable_data();
        {
          py::gil_scoped_release release;
          for (int64_t u = 0; u < n; ++u) {
            int64_t len = 0;
            while (len < k && items.data()[u * k + len] >= 0) ++len;
            validate_finite(scores.data() + u * k, len, "teacher_scores");
            rank_weights(scores.data() + u * k, len, static_cast<float>(temperature), w + u * k);
            for (int64_t j = len; j < k; ++j) w[u * k + j] = 0.0f;
          }
        }
        return out;
      },
      py::arg("teacher_items"), py::arg("teacher_scores"), py::arg("temperature"),
      "Ranking weights K * softmax(score / T) over each row's items (zero on -1 padding).");

  m.def(
      "distill_user_gradient",
      [](const std::string& loss, const py::object& p_obj, const py::object& q_obj, const py::object& b_obj,
         const py::object& items_obj, const py::object& scores_obj, double rest, const py::object& pos_obj,
         const py::object& neg_obj, double temperature) {
        const DistillLoss l = loss_arg(loss);
        auto p = float_vector(p_obj, "p_u");
        auto Q = float_matrix(q_obj, "item_factors");
        const int64_t f = Q.shape(1), n_items = Q.shape(0);
        require(p.shape(0) == f, "p_u: length must equal the number of factors");
        std::optional<In<float>> b;
        if (!b_obj.is_none()) {
          b = float_vector(b_obj, "item_bias");
          require(b->shape(0) == n_items, "item_bias: length must equal the number of items");
        }
        auto items = index_array(items_obj, "teacher_items");
        auto scores = float_vector(scores_obj, "teacher_scores");
        const int64_t k = items.shape(0);
        require(scores.shape(0) == k, "teacher_scores: length must equal teacher_items'");
        auto pos = index_array(pos_obj, "positions");
        auto neg = index_array(neg_obj, "negatives");
        require(temperature > 0.0 && std::isfinite(temperature), "temperature: must be > 0 and finite");
        require_finite_number(rest, "rest");
        validate_indices(items.data(), k, n_items, "teacher_items");
        validate_indices(pos.data(), pos.shape(0), k, "positions");
        validate_indices(neg.data(), neg.shape(0), n_items, "negatives");
        validate_finite(scores.data(), k, "teacher_scores");
        const int n_a = static_cast<int>(pos.shape(0)), n_n = static_cast<int>(neg.shape(0));
        auto gp = new_array<float>({f});
        auto gq = new_array<float>({static_cast<py::ssize_t>(n_a + n_n), f});
        auto gb = new_array<float>({static_cast<py::ssize_t>(n_a + n_n)});
        const double value = distill_user_gradient(l, p.data(), Q.data(), b ? b->data() : nullptr, f, items.data(),
                                                   scores.data(), k, static_cast<float>(rest), pos.data(), n_a,
                                                   neg.data(), n_n, static_cast<float>(temperature), gp.mutable_data(),
                                                   gq.mutable_data(), gb.mutable_data());
        return py::make_tuple(value, gp, gq, gb);
      },
      py::arg("loss"), py::arg("p_u"), py::arg("item_factors"), py::arg("item_bias"), py::arg("teacher_items"),
      py::arg("teacher_scores"), py::arg("rest"), py::arg("positions"), py::arg("negatives"),
      py::arg("temperature") = 2.0,
      "Distillation loss of one user and its gradient w.r.t. p_u, the candidates' item rows and biases (tests).");
}

}  // namespace crossrec::bind
