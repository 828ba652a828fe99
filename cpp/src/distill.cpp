#include "crossrec/distill.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <numeric>
#include <vector>

#include "crossrec/dense.hpp"
#include "crossrec/parallel.hpp"
#include "crossrec/random.hpp"

namespace crossrec {

namespace {

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Random streams: two per (epoch, user) - ground truth and distillation draw independently, so
// turning distillation off leaves the ground-truth draws unchanged. One more for the user order.
inline uint64_t user_stream(int64_t epoch, int64_t n_users, int64_t user, int part) {
  return (static_cast<uint64_t>(epoch) * static_cast<uint64_t>(n_users) + static_cast<uint64_t>(user)) * 2 +
         static_cast<uint64_t>(part);
}
inline uint64_t order_stream(int64_t epoch) { return ~static_cast<uint64_t>(epoch); }

int64_t teacher_row_length(const TeacherView& t, int64_t u) {
  const int32_t* row = t.items + u * t.k;
  int64_t n = 0;
  while (n < t.k && row[n] >= 0) ++n;
  return n;
}

bool in_sorted_row(const CsrView& m, int64_t u, int32_t item) {
  const int32_t* b = m.indices + m.begin(u);
  const int32_t* e = m.indices + m.end(u);
  return std::binary_search(b, e, item);
}

// Private copies of the item rows (factors, then bias) one block touches. At the end of the
// block they are turned into deltas against the round's snapshot of Q and b.
struct ItemRows {
  std::vector<int32_t> items;
  std::vector<float> rows;
};

struct Scratch {
  std::vector<int32_t> slot;  // slot[item] = index into the block's ItemRows, -1 if not copied
  std::vector<int64_t> mark;  // mark[item] == marker: item is in the current user's top-K list
  int64_t marker = 0;
  std::vector<int32_t> positions, cand;
  std::vector<float> s, t, w, g, wfull, gp, pu_old;
  std::vector<float*> rows;
};

// Scratch is allocated once per epoch, not once per round: threads lease it from this pool.
class ScratchPool {
 public:
  ScratchPool(int64_t n_items, int64_t k, int64_t n_factors, int64_t n_cand)
      : n_items_(n_items), k_(k), f_(n_factors), n_cand_(n_cand) {}
  struct Lease {
    ScratchPool* pool;
    std::unique_ptr<Scratch> s;
    Lease(ScratchPool* p, std::unique_ptr<Scratch> x) : pool(p), s(std::move(x)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (s) pool->give(std::move(s));
    }
  };
  Lease take() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        auto s = std::move(free_.back());
        free_.pop_back();
        return Lease(this, std::move(s));
      }
    }
    auto s = std::make_unique<Scratch>();
    s->slot.assign(static_cast<size_t>(n_items_), -1);
    s->mark.assign(static_cast<size_t>(n_items_), 0);
    s->positions.resize(static_cast<size_t>(k_));
    s->wfull.resize(static_cast<size_t>(k_));
    for (auto* v : {&s->s, &s->t, &s->w, &s->g}) v->resize(static_cast<size_t>(n_cand_));
    s->cand.resize(static_cast<size_t>(n_cand_));
    s->rows.resize(static_cast<size_t>(n_cand_));
    s->gp.resize(static_cast<size_t>(f_));
    s->pu_old.resize(static_cast<size_t>(f_));
    return Lease(this, std::move(s));
  }

 private:
  void give(std::unique_ptr<Scratch> s) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(std::move(s));
  }
  int64_t n_items_, k_, f_, n_cand_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Scratch>> free_;
};

// The SGD updates, written as free functions so they can be compiled for AVX2 too.
CROSSREC_TARGET_CLONES
void bpr_step(float* pu, float* qi, float* qj, float z, float lr, float reg, int64_t f) {
  for (int64_t k = 0; k < f; ++k) {
    const float pk = pu[k];
    pu[k] += lr * (z * (qi[k] - qj[k]) - reg * pk);
    qi[k] += lr * (z * pk - reg * qi[k]);
    qj[k] += lr * (-z * pk - reg * qj[k]);
  }
}

CROSSREC_TARGET_CLONES
void sq_step(float* pu, float* qi, float e, float lr, float reg, int64_t f) {
  for (int64_t k = 0; k < f; ++k) {
    const float pk = pu[k];
    pu[k] += lr * (e * qi[k] - reg * pk);
    qi[k] += lr * (e * pk - reg * qi[k]);
  }
}

// One gradient step on a user's distillation candidates (rows[c] = factors then bias, g = dL/ds):
// every gradient is taken at the current values, as in the loss's gradient check.
CROSSREC_TARGET_CLONES
void distill_step(float* pu, float* const* rows, const float* g, int n_c, float alpha, float lr, float reg, bool bias,
                  int64_t f, float* gp, float* pu_old) {
  for (int64_t k = 0; k < f; ++k) {
    gp[k] = 0.0f;
    pu_old[k] = pu[k];
  }
  for (int c = 0; c < n_c; ++c) {
    const float gc = alpha * g[c];
    float* q = rows[c];
    for (int64_t k = 0; k < f; ++k) gp[k] += gc * q[k];
    for (int64_t k = 0; k < f; ++k) q[k] -= lr * (gc * pu_old[k] + reg * q[k]);
    if (bias) q[f] -= lr * (gc + reg * q[f]);
  }
  for (int64_t k = 0; k < f; ++k) pu[k] -= lr * (gp[k] + reg * pu_old[k]);
}

class BlockWorker {
 public:
  BlockWorker(const CsrView& train, const TeacherView& teacher, const StudentView& st, const DistillOptions& o,
              Scratch& sc, ItemRows& buf)
      : train_(train), teacher_(teacher), st_(st), o_(o), sc_(sc), buf_(buf), f_(st.n_factors), stride_(f_ + 1) {}

  // Upper bound on the item rows the users can touch, so `buf.rows` never reallocates
  // (pointers into it stay valid for the whole block).
  int64_t touch_bound(const int32_t* users, int64_t n) const {
    int64_t bound = 0;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t u = users[j];
      if (gt_on()) bound += train_.row_nnz(u) * (o_.ground_truth == GroundTruth::bpr ? 2 : 1);
      if (distill_on()) bound += std::min<int64_t>(teacher_.k, o_.n_samples) + o_.n_negatives;
    }
    return std::min(bound, st_.n_items);
  }

  void run(const int32_t* users, int64_t n) {
    buf_.items.clear();
    const size_t need = static_cast<size_t>(touch_bound(users, n) * stride_);
    if (buf_.rows.size() < need) buf_.rows.resize(need);
    for (int64_t j = 0; j < n; ++j) {
      if (gt_on()) ground_truth(users[j]);
      if (distill_on()) distill(users[j]);
    }
    // Private rows -> deltas against the (unchanged during the round) shared rows.
    for (size_t slot = 0; slot < buf_.items.size(); ++slot) {
      const int32_t item = buf_.items[slot];
      float* r = buf_.rows.data() + slot * stride_;
      const float* q = st_.item_factors + item * f_;
      for (int64_t k = 0; k < f_; ++k) r[k] -= q[k];
      r[f_] = st_.item_bias ? r[f_] - st_.item_bias[item] : 0.0f;
      sc_.slot[item] = -1;
    }
  }

 private:
  bool gt_on() const { return o_.ground_truth != GroundTruth::none && o_.alpha < 1.0f; }
  bool distill_on() const { return o_.loss != DistillLoss::none && o_.alpha > 0.0f; }

  float* local(int32_t item) {
    int32_t s = sc_.slot[item];
    if (s < 0) {
      s = static_cast<int32_t>(buf_.items.size());
      sc_.slot[item] = s;
      buf_.items.push_back(item);
      float* r = buf_.rows.data() + s * stride_;
      std::copy(st_.item_factors + item * f_, st_.item_factors + (item + 1) * f_, r);
      r[f_] = st_.item_bias ? st_.item_bias[item] : 0.0f;
    }
    return buf_.rows.data() + s * stride_;
  }

  void ground_truth(int64_t u) {
    const int64_t nnz = train_.row_nnz(u);
    if (nnz == 0) return;
    Rng rng(o_.seed, user_stream(o_.epoch, st_.n_users, u, 0));
    float* pu = st_.user_factors + u * f_;
    const float lr = o_.learning_rate, reg = o_.regularization, w = 1.0f - o_.alpha;
    const bool bias = st_.item_bias != nullptr;
    for (int64_t d = 0; d < nnz; ++d) {
      const int64_t p = train_.begin(u) + static_cast<int64_t>(rng.below(static_cast<uint64_t>(nnz)));
      const int32_t i = train_.indices[p];
      if (o_.ground_truth == GroundTruth::bpr) {
        if (nnz >= st_.n_items) return;  // no negative exists
        int32_t j = -1;
        for (int tries = 0; tries < 16 && j < 0; ++tries) {
          const auto c = static_cast<int32_t>(rng.below(static_cast<uint64_t>(st_.n_items)));
          if (!in_sorted_row(train_, u, c)) j = c;
        }
        if (j < 0) continue;
        float* qi = local(i);
        float* qj = local(j);
        const float x = dot(pu, qi, f_) - dot(pu, qj, f_) + qi[f_] - qj[f_];
        const float z = w * static_cast<float>(sigmoid(-x));
        bpr_step(pu, qi, qj, z, lr, reg, f_);
        if (bias) {
          qi[f_] += lr * (z - reg * qi[f_]);
          qj[f_] += lr * (-z - reg * qj[f_]);
        }
      } else {
        float* qi = local(i);
        float* cu = st_.user_bias ? st_.user_bias + u : nullptr;
        const float pred = o_.global_mean + (cu ? *cu : 0.0f) + dot(pu, qi, f_) + qi[f_];
        const float e = w * (train_.value(p) - pred);
        sq_step(pu, qi, e, lr, reg, f_);
        if (bias) qi[f_] += lr * (e - reg * qi[f_]);
        if (cu) *cu += lr * (e - reg * *cu);
      }
    }
  }

  void distill(int64_t u) {
    const int64_t k_u = teacher_row_length(teacher_, u);
    if (k_u == 0) return;
    Rng rng(o_.seed, user_stream(o_.epoch, st_.n_users, u, 1));
    const int32_t* top = teacher_.items + u * teacher_.k;
    const float* top_s = teacher_.scores + u * teacher_.k;
    // A: distinct positions of the top-K list (partial Fisher-Yates).
    int n_a = static_cast<int>(std::min<int64_t>(k_u, o_.n_samples));
    std::iota(sc_.positions.begin(), sc_.positions.begin() + k_u, 0);
    if (n_a < k_u) {
      for (int a = 0; a < n_a; ++a) {
        const int64_t r = a + static_cast<int64_t>(rng.below(static_cast<uint64_t>(k_u - a)));
        std::swap(sc_.positions[a], sc_.positions[r]);
      }
    }
    const float* weights = teacher_.weights ? teacher_.weights + u * teacher_.k : sc_.wfull.data();
    if (o_.loss == DistillLoss::ranking && !teacher_.weights)
      rank_weights(top_s, k_u, o_.temperature, sc_.wfull.data());
    ++sc_.marker;
    for (int64_t j = 0; j < k_u; ++j) sc_.mark[top[j]] = sc_.marker;
    for (int a = 0; a < n_a; ++a) {
      const int32_t pos = sc_.positions[a];
      sc_.cand[a] = top[pos];
      sc_.t[a] = top_s[pos];
      sc_.w[a] = o_.loss == DistillLoss::ranking ? weights[pos] : 1.0f;
    }
    // N: items outside the top-K list and the user's train row.
    int n_n = 0;
    for (int d = 0; d < o_.n_negatives; ++d) {
      for (int tries = 0; tries < 16; ++tries) {
        const auto c = static_cast<int32_t>(rng.below(static_cast<uint64_t>(st_.n_items)));
        if (sc_.mark[c] == sc_.marker || in_sorted_row(train_, u, c)) continue;
        sc_.cand[n_a + n_n++] = c;
        break;
      }
    }
    const int n_c = n_a + n_n;
    float* pu = st_.user_factors + u * f_;
    for (int c = 0; c < n_c; ++c) {
      sc_.rows[c] = local(sc_.cand[c]);
      sc_.s[c] = dot(pu, sc_.rows[c], f_) + sc_.rows[c][f_];
    }
    distill_score_grad(o_.loss, sc_.s.data(), sc_.t.data(), sc_.w.data(), n_a, n_n, teacher_.rest[u], o_.temperature,
                       sc_.g.data(), false);
    distill_step(pu, sc_.rows.data(), sc_.g.data(), n_c, o_.alpha, o_.learning_rate, o_.regularization,
                 st_.item_bias != nullptr, f_, sc_.gp.data(), sc_.pu_old.data());
  }

  const CsrView& train_;
  const TeacherView& teacher_;
  const StudentView& st_;
  const DistillOptions& o_;
  Scratch& sc_;
  ItemRows& buf_;
  const int64_t f_, stride_;
};

}  // namespace

void rank_weights(const float* t, int64_t k, float temperature, float* w) {
  if (k == 0) return;
  double hi = t[0];
  for (int64_t j = 1; j < k; ++j) hi = std::max<double>(hi, t[j]);
  double z = 0.0;
  for (int64_t j = 0; j < k; ++j) {
    const double e = std::exp((t[j] - hi) / temperature);
    w[j] = static_cast<float>(e);
    z += e;
  }
  const double scale = k / z;
  for (int64_t j = 0; j < k; ++j) w[j] = static_cast<float>(w[j] * scale);
}

double distill_score_grad(DistillLoss loss, const float* s, const float* t, const float* w, int n_a, int n_n,
                          float rest, float temperature, float* grad, bool want_loss) {
  const int n_c = n_a + n_n;
  const double T = temperature;
  double total = 0.0;
  switch (loss) {
    case DistillLoss::pointwise:
      for (int c = 0; c < n_c; ++c) {
        const double d = static_cast<double>(s[c]) - (c < n_a ? t[c] : rest) / T;
        if (want_loss) total += 0.5 * d * d;
        grad[c] = static_cast<float>(d);
      }
      break;
    case DistillLoss::ranking:
      // softplus(-s) and sigmoid(-s) from one exp(-|s|).
      for (int c = 0; c < n_c; ++c) {
        const double x = c < n_a ? -static_cast<double>(s[c]) : static_cast<double>(s[c]);  // loss softplus(x)
        const double e = std::exp(-std::abs(x));
        const double sig = x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);  // sigmoid(x) = d softplus(x)/dx
        const double weight = c < n_a ? w[c] : 1.0;
        if (want_loss) total += weight * (std::max(x, 0.0) + std::log1p(e));
        grad[c] = static_cast<float>(c < n_a ? -weight * sig : sig);
      }
      break;
    case DistillLoss::listwise: {
      if (n_c == 0) break;
      // Teacher logits t'/T, student logits s/T; both normalised with the max subtracted.
      double hp = -INFINITY, hq = -INFINITY;
      for (int c = 0; c < n_c; ++c) {
        hp = std::max(hp, (c < n_a ? t[c] : rest) / T);
        hq = std::max(hq, s[c] / T);
      }
      double zp = 0.0, zq = 0.0;
      for (int c = 0; c < n_c; ++c) {
        zp += std::exp((c < n_a ? t[c] : rest) / T - hp);
        zq += std::exp(s[c] / T - hq);
      }
      const double lzp = std::log(zp), lzq = std::log(zq);
      for (int c = 0; c < n_c; ++c) {
        const double lp = (c < n_a ? t[c] : rest) / T - hp - lzp;
        const double lq = s[c] / T - hq - lzq;
        const double p = std::exp(lp), q = std::exp(lq);
        if (want_loss) total += p * (lp - lq);
        grad[c] = static_cast<float>(n_c * T * (q - p));  // d(n_c T^2 KL)/ds_c
      }
      total *= n_c * T * T;
      break;
    }
    case DistillLoss::none:
      for (int c = 0; c < n_c; ++c) grad[c] = 0.0f;
      break;
  }
  return total;
}

double distill_user_gradient(DistillLoss loss, const float* p_u, const float* item_factors, const float* item_bias,
                             int64_t n_factors, const int32_t* top_items, const float* top_scores, int64_t k,
                             float rest, const int32_t* positions, int n_a, const int32_t* negatives, int n_n,
                             float temperature, float* grad_p, float* grad_q, float* grad_b) {
  const int n_c = n_a + n_n;
  std::vector<float> wfull(static_cast<size_t>(k)), s(n_c), t(n_c), w(n_c), g(n_c);
  std::vector<int32_t> cand(n_c);
  rank_weights(top_scores, k, temperature, wfull.data());
  for (int a = 0; a < n_a; ++a) {
    cand[a] = top_items[positions[a]];
    t[a] = top_scores[positions[a]];
    w[a] = loss == DistillLoss::ranking ? wfull[positions[a]] : 1.0f;
  }
  for (int j = 0; j < n_n; ++j) cand[n_a + j] = negatives[j];
  for (int c = 0; c < n_c; ++c)
    s[c] = dot(p_u, item_factors + cand[c] * n_factors, n_factors) + (item_bias ? item_bias[cand[c]] : 0.0f);
  const double total = distill_score_grad(loss, s.data(), t.data(), w.data(), n_a, n_n, rest, temperature, g.data());
  std::fill(grad_p, grad_p + n_factors, 0.0f);
  for (int c = 0; c < n_c; ++c) {
    const float* q = item_factors + cand[c] * n_factors;
    for (int64_t f = 0; f < n_factors; ++f) {
      grad_p[f] += g[c] * q[f];
      grad_q[c * n_factors + f] = g[c] * p_u[f];
    }
    grad_b[c] = g[c];
  }
  return total;
}

void distill_epoch(const CsrView& train, const TeacherView& teacher, const StudentView& student,
                   const DistillOptions& o, int n_threads) {
  const int64_t n_users = student.n_users;
  if (n_users == 0) return;
  std::vector<int32_t> order(static_cast<size_t>(n_users));
  std::iota(order.begin(), order.end(), 0);
  Rng shuffle(o.seed, order_stream(o.epoch));
  for (int64_t j = n_users - 1; j > 0; --j)
    std::swap(order[j], order[static_cast<int64_t>(shuffle.below(static_cast<uint64_t>(j + 1)))]);

  const int64_t n_blocks = (n_users + kDistillBlockUsers - 1) / kDistillBlockUsers;
  const int64_t n_cand = std::min<int64_t>(teacher.k, o.n_samples) + o.n_negatives + 1;
  ScratchPool pool(student.n_items, std::max<int64_t>(teacher.k, 1), student.n_factors, n_cand);
  std::vector<ItemRows> bufs(static_cast<size_t>(std::min(n_blocks, kDistillRoundBlocks)));
  const int64_t f = student.n_factors;
  // Threads only pay off when a round holds enough work. Each round ends in two barriers, and on a
  // busy machine a descheduled thread stalls the others there (10x slower epochs measured on Douban
  // with 2 threads under load). Same rule as the ALS and SGD kernels: at most one thread per
  // ~4 MFLOP, whatever the count asked for (results never depend on it).
  const double gt_draws = o.ground_truth == GroundTruth::none
                              ? 0.0
                              : static_cast<double>(train.nnz()) * (o.ground_truth == GroundTruth::bpr ? 2 : 1);
  const double distill_rows =
      static_cast<double>(n_users) * (std::min<int64_t>(teacher.k, o.n_samples) + o.n_negatives);
  const double round_flops = (gt_draws + distill_rows) * f * 6.0 * kDistillRoundBlocks / n_blocks;
  n_threads = std::min(resolve_threads(n_threads), static_cast<int>(std::max(1.0, round_flops / 4e6)));
  const int64_t parts = n_threads;

  for (int64_t r0 = 0; r0 < n_blocks; r0 += kDistillRoundBlocks) {
    const int64_t nb = std::min(kDistillRoundBlocks, n_blocks - r0);
    parallel_for(
        nb, n_threads, 1, [&] { return pool.take(); },
        [&](int64_t b, ScratchPool::Lease& lease) {
          const int64_t u0 = (r0 + b) * kDistillBlockUsers;
          const int64_t u1 = std::min(n_users, u0 + kDistillBlockUsers);
          BlockWorker(train, teacher, student, o, *lease.s, bufs[b]).run(order.data() + u0, u1 - u0);
        });
    // Merge: each item's deltas are added in block order, whichever thread owns the item
    // (threads own contiguous item ranges, so they never share a cache line of the bias).
    parallel_for(parts, n_threads, 1, [&](int64_t part) {
      const int64_t lo = student.n_items * part / parts, hi = student.n_items * (part + 1) / parts;
      for (int64_t b = 0; b < nb; ++b) {
        const ItemRows& buf = bufs[b];
        for (size_t slot = 0; slot < buf.items.size(); ++slot) {
          const int32_t item = buf.items[slot];
          if (item < lo || item >= hi) continue;
          const float* d = buf.rows.data() + slot * (f + 1);
          float* q = student.item_factors + item * f;
          for (int64_t k = 0; k < f; ++k) q[k] += d[k];
          if (student.item_bias) student.item_bias[item] += d[f];
        }
      }
    });
  }
}

}  // namespace crossrec
