#include "crossrec/knn_predict.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "crossrec/parallel.hpp"

namespace crossrec {
namespace {

// One candidate neighbour of a (x, y) query: its similarity and the position of its rating in
// the list it came from (16 bytes: the candidate loop is the hottest part of prediction).
struct Candidate {
  double sim;
  int64_t pos;  // also the tie-break: earlier wins (Surprise's heapq.nlargest is stable)
};

// a ranks before b
inline bool better(const Candidate& a, const Candidate& b) {
  return a.sim > b.sim || (a.sim == b.sim && a.pos < b.pos);
}

// Keeps the k best candidates: collect, and whenever 4k have piled up keep the best k
// (nth_element, O(m)); later candidates that cannot beat the k-th best are not even stored.
class KBest {
 public:
  void reset(int k) {
    k_ = k;
    all_.clear();
    has_kth_ = false;
  }
  void push(const Candidate& c) {
    if (has_kth_ && !better(c, kth_)) return;
    all_.push_back(c);
    if (all_.size() >= static_cast<size_t>(4 * k_ + 64)) select();
  }
  // The k best (any order); valid until the next reset/push.
  const std::vector<Candidate>& items() {
    if (static_cast<int>(all_.size()) > k_) select();
    return all_;
  }

 private:
  void select() {
    std::nth_element(all_.begin(), all_.begin() + (k_ - 1), all_.end(), better);
    kth_ = all_[k_ - 1];
    has_kth_ = true;
    all_.resize(static_cast<size_t>(k_));
  }
  int k_ = 0;
  bool has_kth_ = false;
  Candidate kth_{};
  std::vector<Candidate> all_;
};

bool known(const CsrView& X, const CsrView& XT, int32_t x, int32_t y) { return X.row_nnz(x) > 0 && XT.row_nnz(y) > 0; }

double base_of(const PredictParams& pp, int32_t x, int32_t y) {
  switch (pp.centering) {
    case Centering::mean:
      return pp.x_mean[x];
    case Centering::baseline:
      return pp.global_mean + pp.bx[x] + pp.by[y];
    case Centering::none:
      break;
  }
  return 0.0;
}

// Aggregates the kept neighbours into a prediction (rules in knn_predict.hpp).
// neighbour(pos) -> (x2, rating) of a candidate.
template <class Neighbour>
float aggregate(const PredictParams& pp, KBest& best, bool is_known, int32_t x, int32_t y, int32_t* used,
                Neighbour&& neighbour) {
  double est;
  int actual_k = 0;
  if (!is_known) {
    est = pp.centering == Centering::baseline ? base_of(pp, x, y) : pp.global_mean;
  } else {
    double sum_sim = 0.0, sum = 0.0;
    for (const Candidate& c : best.items()) {
      const auto [x2, rating] = neighbour(c.pos);
      double d = rating;
      if (pp.centering == Centering::mean) d -= pp.x_mean[x2];
      if (pp.centering == Centering::baseline) d -= pp.global_mean + pp.bx[x2] + pp.by[y];
      sum_sim += c.sim;
      sum += c.sim * d;
      ++actual_k;
    }
    const bool enough = actual_k >= pp.min_k && sum_sim > 0.0;
    if (pp.centering == Centering::none) {
      est = enough ? sum / sum_sim : pp.global_mean;
    } else {
      est = base_of(pp, x, y) + (enough ? sum / sum_sim : 0.0);
    }
  }
  if (pp.clip) est = std::min(pp.hi, std::max(pp.lo, est));
  if (used) *used = actual_k;
  return static_cast<float>(est);
}

}  // namespace

namespace {

template <class T>
void predict_rated_impl(const CsrView& X, const CsrView& XT, const CsrView& sim_rows, const CsrView& sim_cols,
                        const double* norms, const SimOptions& opt, const PredictParams& pp, const int32_t* qx,
                        const int32_t* qy, int64_t n_queries, float* out, int32_t* out_k, int n_threads) {
  // Group the queries by x (counting sort, stable) so each similarity row is computed once.
  const int64_t n_x = X.n_rows;
  std::vector<int64_t> start(static_cast<size_t>(n_x) + 1, 0);
  for (int64_t q = 0; q < n_queries; ++q) ++start[qx[q] + 1];
  for (int64_t x = 0; x < n_x; ++x) start[x + 1] += start[x];
  std::vector<int64_t> order(static_cast<size_t>(n_queries));
  {
    std::vector<int64_t> next(start.begin(), start.end() - 1);
    for (int64_t q = 0; q < n_queries; ++q) order[next[qx[q]]++] = q;
  }
  std::vector<int32_t> groups;  // the x values that have queries
  for (int64_t x = 0; x < n_x; ++x)
    if (start[x + 1] > start[x]) groups.push_back(static_cast<int32_t>(x));

  struct Scratch {
    SimilarityRow<T> sim;
    std::vector<double> row;  // dense similarity row of the current x
    std::vector<int32_t> set;
    KBest best;
  };
  parallel_for(
      static_cast<int64_t>(groups.size()), n_threads, 1,
      [&] { return Scratch{SimilarityRow<T>(sim_rows, sim_cols, norms, opt), std::vector<double>(n_x, 0.0), {}, {}}; },
      [&](int64_t g, Scratch& s) {
        const int32_t x = groups[g];
        s.sim.for_each(x, [&](int32_t j, double v) {
          s.row[j] = v;
          s.set.push_back(j);
        });
        for (int64_t t = start[x]; t < start[x + 1]; ++t) {
          const int64_t q = order[t];
          const int32_t y = qy[q];
          s.best.reset(pp.k);
          const bool is_known = known(X, XT, x, y);
          if (is_known) {
            for (int64_t p = XT.begin(y); p < XT.end(y); ++p) {
              const int32_t x2 = XT.indices[p];
              const double v = s.row[x2];
              // Only sim > 0 ever contributes, and positives outrank everything else, so the k
              // best positives are exactly the positives among Surprise's k nearest raters.
              if (v > 0.0) s.best.push(Candidate{v, p});
            }
          }
          out[q] = aggregate(pp, s.best, is_known, x, y, out_k ? out_k + q : nullptr,
                             [&](int64_t p) { return std::pair<int32_t, double>(XT.indices[p], XT.value(p)); });
        }
        for (int32_t j : s.set) s.row[j] = 0.0;
        s.set.clear();
      });
}

}  // namespace

void knn_predict_rated(const CsrView& X, const CsrView& XT, const CsrView& sim_rows, const CsrView& sim_cols,
                       const double* norms, const SimOptions& opt, const PredictParams& pp, const int32_t* qx,
                       const int32_t* qy, int64_t n_queries, float* out, int32_t* out_k, int n_threads) {
  with_accumulator(opt, [&](auto zero) {
    predict_rated_impl<decltype(zero)>(X, XT, sim_rows, sim_cols, norms, opt, pp, qx, qy, n_queries, out, out_k,
                                       n_threads);
  });
}

void knn_similarity_row(const CsrView& sim_rows, const CsrView& sim_cols, const double* norms, const SimOptions& opt,
                        int32_t x, std::vector<int32_t>& out_idx, std::vector<double>& out_sim) {
  std::vector<std::pair<int32_t, double>> row;
  with_accumulator(opt, [&](auto zero) {
    SimilarityRow<decltype(zero)> sim(sim_rows, sim_cols, norms, opt);
    sim.for_each(x, [&](int32_t j, double v) { row.emplace_back(j, v); });
  });
  std::sort(row.begin(), row.end());
  out_idx.clear();
  out_sim.clear();
  for (const auto& [j, v] : row) {
    out_idx.push_back(j);
    out_sim.push_back(v);
  }
}

void knn_predict_fixed(const CsrView& X, const CsrView& XT, const CsrView& neighbors, const PredictParams& pp,
                       const int32_t* qx, const int32_t* qy, int64_t n_queries, float* out, int32_t* out_k,
                       int n_threads) {
  parallel_for(
      n_queries, n_threads, 256, [] { return KBest{}; },
      [&](int64_t q, KBest& best) {
        const int32_t x = qx[q], y = qy[q];
        best.reset(pp.k);
        const bool is_known = known(X, XT, x, y);
        if (is_known) {
          for (int64_t p = neighbors.begin(x); p < neighbors.end(x); ++p) {
            const double v = neighbors.value(p);
            if (!(v > 0.0)) continue;
            const int32_t x2 = neighbors.indices[p];
            const int32_t* b = X.indices + X.begin(x2);
            const int32_t* e = X.indices + X.end(x2);
            const int32_t* hit = std::lower_bound(b, e, y);
            // X's rows are stored in row order, so the position also orders by x2 (the tie-break).
            if (hit != e && *hit == y) best.push(Candidate{v, hit - X.indices});
          }
        }
        out[q] = aggregate(pp, best, is_known, x, y, out_k ? out_k + q : nullptr, [&](int64_t pos) {
          const int64_t* row_end = std::upper_bound(X.indptr, X.indptr + X.n_rows + 1, pos);
          return std::pair<int32_t, double>(static_cast<int32_t>(row_end - X.indptr - 1), X.value(pos));
        });
      });
}

namespace {

struct Scored {
  double score;
  int32_t rank;
  int32_t item;
};
inline bool ranks_before(const Scored& a, const Scored& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.rank != b.rank) return a.rank < b.rank;
  return a.item < b.item;
}

}  // namespace

void knn_recommend(const CsrView& A, const int32_t* rows, int64_t n_queries, const CsrView& B, const int32_t* tie_rank,
                   const int32_t* fallback_order, const CsrView* exclude, const int32_t* exclude_rows,
                   const uint8_t* allowed, int n, int32_t* out_items, float* out_scores, int32_t* out_scored,
                   int n_threads) {
  const int64_t n_items = B.n_cols;
  struct Scratch {
    std::vector<double> acc;
    std::vector<uint8_t> flag;  // 1 = touched, 2 = excluded (bits)
    std::vector<int32_t> touched;
    std::vector<Scored> heap;
  };
  parallel_for(
      n_queries, n_threads, 8,
      [&] { return Scratch{std::vector<double>(n_items, 0.0), std::vector<uint8_t>(n_items, 0), {}, {}}; },
      [&](int64_t q, Scratch& s) {
        const int64_t r = rows ? rows[q] : q;
        for (int64_t p = A.begin(r); p < A.end(r); ++p) {
          const int32_t c = A.indices[p];
          const double a = A.value(p);
          for (int64_t t = B.begin(c); t < B.end(c); ++t) {
            const int32_t item = B.indices[t];
            if (!(s.flag[item] & 1)) {
              s.flag[item] |= 1;
              s.touched.push_back(item);
            }
            s.acc[item] += a * B.value(t);
          }
        }
        if (exclude) {
          const int64_t er = exclude_rows ? exclude_rows[q] : q;
          for (int64_t p = exclude->begin(er); p < exclude->end(er); ++p) s.flag[exclude->indices[p]] |= 2;
        }
        auto eligible = [&](int32_t item) { return !(s.flag[item] & 2) && (!allowed || allowed[item]); };
        auto push = [&](const Scored& e) {
          if (static_cast<int>(s.heap.size()) < n) {
            s.heap.push_back(e);
            std::push_heap(s.heap.begin(), s.heap.end(), ranks_before);
          } else if (ranks_before(e, s.heap.front())) {
            std::pop_heap(s.heap.begin(), s.heap.end(), ranks_before);
            s.heap.back() = e;
            std::push_heap(s.heap.begin(), s.heap.end(), ranks_before);
          }
        };
        s.heap.clear();
        for (int32_t item : s.touched) {
          if (eligible(item)) push(Scored{s.acc[item], tie_rank[item], item});
        }
        // Untouched items all score 0 and rank among themselves by tie_rank, which is the order of
        // fallback_order: the first n eligible ones are the only ones that can enter.
        const bool zeros_can_enter = static_cast<int>(s.heap.size()) < n || s.heap.front().score <= 0.0;
        if (zeros_can_enter) {
          int added = 0;
          for (int64_t t = 0; t < n_items && added < n; ++t) {
            const int32_t item = fallback_order[t];
            if (!(s.flag[item] & 1) && eligible(item)) {
              push(Scored{0.0, tie_rank[item], item});
              ++added;
            }
          }
        }
        std::sort_heap(s.heap.begin(), s.heap.end(), ranks_before);
        int32_t* oi = out_items + q * n;
        float* os = out_scores + q * n;
        int scored = 0;
        const int m = static_cast<int>(s.heap.size());
        for (int j = 0; j < m; ++j) {
          oi[j] = s.heap[j].item;
          os[j] = static_cast<float>(s.heap[j].score);
          if (s.flag[s.heap[j].item] & 1) ++scored;
        }
        for (int j = m; j < n; ++j) {
          oi[j] = -1;
          os[j] = -std::numeric_limits<float>::infinity();
        }
        out_scored[q] = scored;
        // Reset the scratch touched by this query only.
        for (int32_t item : s.touched) {
          s.acc[item] = 0.0;
          s.flag[item] = 0;
        }
        s.touched.clear();
        if (exclude) {
          const int64_t er = exclude_rows ? exclude_rows[q] : q;
          for (int64_t p = exclude->begin(er); p < exclude->end(er); ++p) s.flag[exclude->indices[p]] = 0;
        }
      });
}

}  // namespace crossrec
