#include "crossrec/rules.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "crossrec/bits.hpp"
#include "crossrec/parallel.hpp"

namespace crossrec {

double rule_metric(RuleMetric metric, double s_xy, double s_x, double s_y) {
  const double confidence = s_xy / s_x;
  switch (metric) {
    case RuleMetric::support:
      return s_xy;
    case RuleMetric::confidence:
      return confidence;
    case RuleMetric::lift:
      return confidence / s_y;
    case RuleMetric::leverage:
      return s_xy - s_x * s_y;
    case RuleMetric::conviction:
      return confidence >= 1.0 ? std::numeric_limits<double>::infinity() : (1.0 - s_y) / (1.0 - confidence);
  }
  return 0.0;
}

namespace {

// Hash index from an itemset (sorted items) to its position, for support look-ups of subsets.
class ItemsetIndex {
 public:
  ItemsetIndex(const int64_t* offsets, const int32_t* items, int64_t n) : offsets_(offsets), items_(items) {
    size_t cap = 16;
    int bits = 4;
    while (cap < 2 * static_cast<size_t>(n) + 2) {
      cap <<= 1;
      ++bits;
    }
    shift_ = 64 - bits;
    slots_.assign(cap, -1);
    for (int64_t s = 0; s < n; ++s) {
      const int32_t* p = items + offsets[s];
      const int len = static_cast<int>(offsets[s + 1] - offsets[s]);
      size_t slot = home(p, len);
      while (slots_[slot] >= 0 && !equal(slots_[slot], p, len)) slot = (slot + 1) & (cap - 1);
      if (slots_[slot] < 0) slots_[slot] = s;  // a repeated itemset keeps its first position
    }
  }

  int64_t find(const int32_t* p, int len) const {
    size_t slot = home(p, len);
    while (slots_[slot] >= 0) {
      if (equal(slots_[slot], p, len)) return slots_[slot];
      slot = (slot + 1) & (slots_.size() - 1);
    }
    return -1;
  }

 private:
  size_t home(const int32_t* p, int len) const {
    uint64_t h = 0x243F6A8885A308D3ull ^ static_cast<uint64_t>(len);
    for (int k = 0; k < len; ++k) {
      h = (h ^ static_cast<uint32_t>(p[k])) * 0x9E3779B97F4A7C15ull;
      h ^= h >> 29;
    }
    return static_cast<size_t>((h * 0xBF58476D1CE4E5B9ull) >> shift_);
  }
  bool equal(int64_t s, const int32_t* p, int len) const {
    if (offsets_[s + 1] - offsets_[s] != len) return false;
    return std::equal(p, p + len, items_ + offsets_[s]);
  }

  const int64_t* offsets_;
  const int32_t* items_;
  std::vector<int64_t> slots_;
  int shift_ = 60;
};

struct RuleWriter {
  const ItemsetIndex& index;
  const double* support;
  RuleMetric metric;
  double min_threshold;
  std::atomic<int64_t>& used;
  int64_t max_rules;
  std::vector<int32_t> ante, cons;

  double lookup(const std::vector<int32_t>& part, int64_t s) {
    const int64_t at = index.find(part.data(), static_cast<int>(part.size()));
    if (at < 0)
      throw std::invalid_argument("itemsets: a subset of itemset " + std::to_string(s) +
                                  " is not listed; rules need every subset of each itemset "
                                  "(complete frequent-itemset output)");
    return support[at];
  }

  void consider(const int32_t* items, int k, int64_t s, uint64_t cons_mask, RuleResult& out) {
    ante.clear();
    cons.clear();
    for (int m = 0; m < k; ++m) ((cons_mask >> m) & 1u ? cons : ante).push_back(items[m]);
    const double s_x = lookup(ante, s), s_y = lookup(cons, s);
    if (!(rule_metric(metric, support[s], s_x, s_y) >= min_threshold)) return;
    if (used.fetch_add(1, std::memory_order_relaxed) >= max_rules)
      throw std::length_error("more than max_rules=" + std::to_string(max_rules) +
                              " rules pass the threshold; raise min_threshold or min_support");
    out.itemset.push_back(s);
    out.antecedent_mask.push_back(((uint64_t{1} << k) - 1) & ~cons_mask);
    out.antecedent_support.push_back(s_x);
    out.consequent_support.push_back(s_y);
  }

  // Consequents of 1..max_size items as position masks, in lexicographic order of positions.
  void consequents(const int32_t* items, int k, int64_t s, int from, int room, uint64_t mask, RuleResult& out) {
    for (int m = from; m < k; ++m) {
      const uint64_t next = mask | (uint64_t{1} << m);
      if (popcount64(next) < k) consider(items, k, s, next, out);
      if (room > 1) consequents(items, k, s, m + 1, room - 1, next, out);
    }
  }
};

}  // namespace

RuleResult association_rules(const int64_t* offsets, const int32_t* items, const double* support, int64_t n_itemsets,
                             RuleMetric metric, double min_threshold, int max_consequent, int64_t max_rules,
                             int n_threads) {
  const ItemsetIndex index(offsets, items, n_itemsets);
  constexpr int64_t kBlock = 256;
  const int64_t n_blocks = (n_itemsets + kBlock - 1) / kBlock;
  std::vector<RuleResult> parts(static_cast<size_t>(n_blocks));
  std::atomic<int64_t> used{0};
  parallel_for(
      n_blocks, offsets[n_itemsets] < 20000 ? 1 : n_threads, 1,
      [&] { return RuleWriter{index, support, metric, min_threshold, used, max_rules, {}, {}}; },
      [&](int64_t block, RuleWriter& writer) {
        RuleResult& out = parts[static_cast<size_t>(block)];
        for (int64_t s = block * kBlock; s < std::min(n_itemsets, (block + 1) * kBlock); ++s) {
          const int k = static_cast<int>(offsets[s + 1] - offsets[s]);
          if (k < 2) continue;
          const int room = max_consequent > 0 ? std::min(max_consequent, k - 1) : k - 1;
          writer.consequents(items + offsets[s], k, s, 0, room, 0, out);
        }
      });
  RuleResult all;
  for (auto& part : parts) {
    all.itemset.insert(all.itemset.end(), part.itemset.begin(), part.itemset.end());
    all.antecedent_mask.insert(all.antecedent_mask.end(), part.antecedent_mask.begin(), part.antecedent_mask.end());
    all.antecedent_support.insert(all.antecedent_support.end(), part.antecedent_support.begin(),
                                  part.antecedent_support.end());
    all.consequent_support.insert(all.consequent_support.end(), part.consequent_support.begin(),
                                  part.consequent_support.end());
    part = RuleResult();
  }
  return all;
}

void rule_scores(const CsrView& baskets, const int32_t* rows, int64_t n_rows, const CsrView& antecedents,
                 const CsrView& consequents, const float* weights, bool sum_scores, float* out, int n_threads) {
  const int64_t n_items = consequents.n_cols;
  const int64_t n_rules = antecedents.n_rows;
  // Rules indexed by their smallest antecedent item: a basket only visits rules that can fire.
  std::vector<int64_t> first_ptr(static_cast<size_t>(n_items) + 1, 0);
  std::vector<int32_t> first_item(static_cast<size_t>(n_rules), -1), always;
  for (int64_t k = 0; k < n_rules; ++k) {
    if (antecedents.row_nnz(k) == 0) {
      always.push_back(static_cast<int32_t>(k));  // an empty antecedent fires for everyone
      continue;
    }
    first_item[k] =
        *std::min_element(antecedents.indices + antecedents.begin(k), antecedents.indices + antecedents.end(k));
    ++first_ptr[first_item[k] + 1];
  }
  for (int64_t i = 0; i < n_items; ++i) first_ptr[i + 1] += first_ptr[i];
  std::vector<int32_t> by_first(static_cast<size_t>(first_ptr[n_items]));
  {
    std::vector<int64_t> fill(first_ptr.begin(), first_ptr.end() - 1);
    for (int64_t k = 0; k < n_rules; ++k)
      if (first_item[k] >= 0) by_first[fill[first_item[k]]++] = static_cast<int32_t>(k);
  }
  const float none = -std::numeric_limits<float>::infinity();
  parallel_for(
      n_rows, n_threads, 16, [&] { return std::vector<char>(static_cast<size_t>(n_items), 0); },
      [&](int64_t r, std::vector<char>& mark) {
        float* o = out + r * n_items;
        std::fill(o, o + n_items, none);
        auto fire = [&](int32_t k) {
          const float w = weights[k];
          for (int64_t p = consequents.begin(k); p < consequents.end(k); ++p) {
            float& v = o[consequents.indices[p]];
            if (sum_scores)
              v = v == none ? w : v + w;
            else
              v = std::max(v, w);
          }
        };
        auto fires = [&](int32_t k) {
          for (int64_t p = antecedents.begin(k); p < antecedents.end(k); ++p)
            if (!mark[antecedents.indices[p]]) return false;
          return true;
        };
        const int32_t row = rows[r];
        for (int64_t p = baskets.begin(row); p < baskets.end(row); ++p) mark[baskets.indices[p]] = 1;
        for (int32_t k : always) fire(k);
        for (int64_t p = baskets.begin(row); p < baskets.end(row); ++p) {
          const int32_t i = baskets.indices[p];
          if (mark[i] != 1) continue;  // a repeated item is visited once
          mark[i] = 2;
          for (int64_t q = first_ptr[i]; q < first_ptr[i + 1]; ++q)
            if (fires(by_first[q])) fire(by_first[q]);
        }
        for (int64_t p = baskets.begin(row); p < baskets.end(row); ++p) mark[baskets.indices[p]] = 0;
      });
}

}  // namespace crossrec
