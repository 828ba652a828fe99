// Batch top-N selection: the last step of every model's `recommend`.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "crossrec/csr.hpp"

namespace crossrec {

// Keeps the n best (score, item) pairs seen so far in a min-heap of size n.
// Order: higher score first; ties go to the lower item index, so results are deterministic.
class TopNHeap {
 public:
  explicit TopNHeap(int n) : n_(n) { heap_.reserve(static_cast<size_t>(n)); }

  void clear() { heap_.clear(); }
  // Score a new item must beat to enter (ties broken by index in push).
  bool full() const { return static_cast<int>(heap_.size()) == n_; }
  float threshold() const { return heap_.front().score; }

  void push(int32_t item, float score) {
    if (!(score == score)) return;  // NaN scores never rank
    Entry e{score, item};
    if (static_cast<int>(heap_.size()) < n_) {
      heap_.push_back(e);
      std::push_heap(heap_.begin(), heap_.end(), worse_first);
    } else if (better(e, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), worse_first);
      heap_.back() = e;
      std::push_heap(heap_.begin(), heap_.end(), worse_first);
    }
  }

  // Writes the kept items best first; pads with item -1 and score -inf.
  void write(int32_t* items, float* scores) {
    std::sort(heap_.begin(), heap_.end(), better);
    const int k = static_cast<int>(heap_.size());
    for (int j = 0; j < k; ++j) {
      items[j] = heap_[j].item;
      scores[j] = heap_[j].score;
    }
    for (int j = k; j < n_; ++j) {
      items[j] = -1;
      scores[j] = -std::numeric_limits<float>::infinity();
    }
  }

 private:
  struct Entry {
    float score;
    int32_t item;
  };
  static bool better(const Entry& a, const Entry& b) {
    return a.score > b.score || (a.score == b.score && a.item < b.item);
  }
  // std heap functions keep the "largest" at the front; we want the worst there.
  static bool worse_first(const Entry& a, const Entry& b) { return better(a, b); }

  int n_;
  std::vector<Entry> heap_;
};

// Top-n of each row of a dense score block (n_rows x n_items).
// exclude: optional CSR whose row exclude_rows[r] lists items to skip for row r.
// candidates: optional item subset to rank (nullptr = all items).
void topn_from_scores(const DenseView& scores, const CsrView* exclude, const int32_t* exclude_rows,
                      const int32_t* candidates, int64_t n_candidates, int n, int32_t* out_items, float* out_scores,
                      int n_threads);

// Top-n items by dot(user_factors[u], item_factors[i]) for each query user u, without
// materialising the users x items score matrix. Rows of `user_factors` are the query users.
// item_bias (optional, length n_items) is added to every score.
void topn_from_factors(const DenseView& user_factors, const DenseView& item_factors, const float* item_bias,
                       const CsrView* exclude, const int32_t* exclude_rows, const int32_t* candidates,
                       int64_t n_candidates, int n, int32_t* out_items, float* out_scores, int n_threads);

}  // namespace crossrec
