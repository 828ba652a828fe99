#include "crossrec/apriori.hpp"

#include <algorithm>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "crossrec/bits.hpp"
#include "crossrec/dense.hpp"  // CROSSREC_TARGET_CLONES
#include "crossrec/parallel.hpp"

namespace crossrec {
namespace {

// One level of the itemset trie: the k-itemsets in lexicographic order of their ranks. A node's
// itemset is its parent's (level k-1) plus `item`; its children (level k+1) are a contiguous
// range, so a level is a sorted array and the trie needs no pointers.
struct Level {
  std::vector<int32_t> item, parent;
  std::vector<int64_t> count, child_begin, child_end;
  std::vector<char> alive;  // subtree holds nodes of the level being counted
  int64_t size() const { return static_cast<int64_t>(item.size()); }
};

class Trie {
 public:
  std::vector<Level> levels;  // levels[0] = 1-itemsets

  // Index in level `depth` (0-based) of the itemset items[0..depth], or -1.
  int64_t find(const int32_t* items, int depth) const {
    int64_t lo = 0, hi = levels[0].size();
    for (int d = 0; d <= depth; ++d) {
      const auto& lv = levels[d];
      auto first = lv.item.begin() + lo, last = lv.item.begin() + hi;
      auto it = std::lower_bound(first, last, items[d]);
      if (it == last || *it != items[d]) return -1;
      const int64_t x = it - lv.item.begin();
      if (d == depth) return x;
      lo = lv.child_begin[x];
      hi = lv.child_end[x];
    }
    return -1;
  }

  void itemset(int d, int64_t x, std::vector<int32_t>& out) const {
    out.resize(static_cast<size_t>(d) + 1);
    for (int k = d; k >= 0; --k) {
      out[k] = levels[k].item[x];
      x = levels[k].parent[x];
    }
  }

  // Adds 1 to cnt[x] for every node x of level `target` whose itemset is inside basket t[pos..len).
  void count(const int32_t* t, int len, int pos, int d, int64_t lo, int64_t hi, int target, int64_t* cnt) const {
    const Level& lv = levels[d];
    const int need = target - d;  // items still to match below this level
    auto visit = [&](int64_t x, int p) {
      if (d == target)
        ++cnt[x];
      else if (lv.alive[x])
        count(t, len, p + 1, d + 1, lv.child_begin[x], lv.child_end[x], target, cnt);
    };
    if (hi - lo > 8 * static_cast<int64_t>(len - pos)) {
      // Few basket items against many nodes (the root level of sparse data): look each item up
      // instead of merging through every node.
      for (int p = pos; p < len - need && lo < hi; ++p) {
        auto first = lv.item.begin() + lo, last = lv.item.begin() + hi;
        auto it = std::lower_bound(first, last, t[p]);
        lo = it - lv.item.begin();
        if (it != last && *it == t[p]) visit(lo++, p);
      }
      return;
    }
    int64_t x = lo;
    int p = pos;
    while (x < hi && p < len - need) {
      const int32_t a = lv.item[x], b = t[p];
      if (a < b) {
        ++x;
      } else if (a > b) {
        ++p;
      } else {
        visit(x, p);
        ++x;
        ++p;
      }
    }
  }
};

// Candidates of level k+1 (index k): joins of siblings x < y of level k whose every k-subset is
// frequent. Returns false when there are none.
bool generate(Trie& trie, int k) {
  Level& lv = trie.levels[k - 1];
  Level next;
  std::vector<int32_t> items, sub;
  for (int64_t x = 0; x < lv.size(); ++x) {
    lv.child_begin[x] = next.size();
    int64_t sib_end = lv.size();
    if (k > 1) sib_end = trie.levels[k - 2].child_end[lv.parent[x]];
    trie.itemset(k - 1, x, items);
    items.push_back(0);
    for (int64_t y = x + 1; y < sib_end; ++y) {
      items[k] = lv.item[y];
      bool ok = true;
      // Dropping either of the last two items gives x or y, both frequent; check the others.
      for (int drop = 0; ok && drop + 2 <= k; ++drop) {
        sub.clear();
        for (int m = 0; m <= k; ++m)
          if (m != drop) sub.push_back(items[m]);
        ok = trie.find(sub.data(), k - 1) >= 0;
      }
      if (!ok) continue;
      next.item.push_back(lv.item[y]);
      next.parent.push_back(static_cast<int32_t>(x));
    }
    lv.child_end[x] = next.size();
  }
  if (next.size() == 0) return false;
  next.count.assign(next.item.size(), 0);  // child ranges come with prune_last, for survivors only
  trie.levels.push_back(std::move(next));
  // Mark the nodes whose subtree reaches the new level, so counting skips dead branches.
  for (int d = k - 1; d >= 0; --d) {
    Level& l = trie.levels[d];
    for (int64_t x = 0; x < l.size(); ++x) {
      bool alive = false;
      if (d == k - 1) {
        alive = l.child_end[x] > l.child_begin[x];
      } else {
        const Level& below = trie.levels[d + 1];
        for (int64_t c = l.child_begin[x]; c < l.child_end[x] && !alive; ++c) alive = below.alive[c];
      }
      l.alive[x] = alive;
    }
  }
  return true;
}

// Drops the infrequent nodes of the last level and fixes the parents' child ranges.
void prune_last(Trie& trie, int64_t min_count) {
  Level& last = trie.levels.back();
  Level& up = trie.levels[trie.levels.size() - 2];
  std::vector<int64_t> new_index(last.item.size() + 1);
  int64_t m = 0;
  for (int64_t x = 0; x < last.size(); ++x) {
    new_index[x] = m;
    if (last.count[x] >= min_count) {
      last.item[m] = last.item[x];
      last.parent[m] = last.parent[x];
      last.count[m] = last.count[x];
      ++m;
    }
  }
  new_index[last.size()] = m;
  for (int64_t x = 0; x < up.size(); ++x) {
    up.child_begin[x] = new_index[up.child_begin[x]];
    up.child_end[x] = new_index[up.child_end[x]];
  }
  for (auto* v : {&last.child_begin, &last.child_end}) v->assign(static_cast<size_t>(m), 0);
  last.item.resize(m);
  last.parent.resize(m);
  last.count.resize(m);
  last.alive.assign(static_cast<size_t>(m), 0);
}

// Which baskets hold each item, as bit rows (n_items x words): dense levels count a candidate
// with one AND + popcount per word instead of scanning every basket.
struct ItemBits {
  int64_t words = 0;
  std::vector<uint64_t> bits;
  const uint64_t* row(int32_t item) const { return bits.data() + static_cast<size_t>(item) * words; }

  explicit ItemBits(const RecodedBaskets& db) : words((db.n_baskets() + 63) / 64) {
    bits.assign(static_cast<size_t>(words) * db.rank_item.size(), 0);
    for (int64_t b = 0; b < db.n_baskets(); ++b)
      for (int64_t p = db.indptr[b]; p < db.indptr[b + 1]; ++p)
        bits[static_cast<size_t>(db.ranks[p]) * words + b / 64] |= uint64_t{1} << (b % 64);
  }
};

CROSSREC_TARGET_CLONES
void and_into(uint64_t* acc, const uint64_t* other, int64_t words) {
  for (int64_t w = 0; w < words; ++w) acc[w] &= other[w];
}

CROSSREC_TARGET_CLONES
int64_t and_popcount(const uint64_t* a, const uint64_t* b, int64_t words) {
  int64_t n = 0;
  for (int64_t w = 0; w < words; ++w) n += popcount64(a[w] & b[w]);
  return n;
}

// Counts the new level vertically: per parent k-itemset, AND its items' bit rows once, then
// one AND + popcount per child candidate. Each candidate is written by one task.
void count_vertical(Trie& trie, const ItemBits& bits, int k, int n_threads) {
  const Level& parents = trie.levels[k - 1];
  Level& cand = trie.levels[k];
  struct Scratch {
    std::vector<uint64_t> acc;
    std::vector<int32_t> items;
  };
  parallel_for(
      parents.size(), n_threads, 64, [&] { return Scratch{std::vector<uint64_t>(bits.words), {}}; },
      [&](int64_t x, Scratch& s) {
        if (parents.child_end[x] == parents.child_begin[x]) return;
        trie.itemset(k - 1, x, s.items);
        std::copy(bits.row(s.items[0]), bits.row(s.items[0]) + bits.words, s.acc.begin());
        for (int m = 1; m < k; ++m) and_into(s.acc.data(), bits.row(s.items[m]), bits.words);
        for (int64_t c = parents.child_begin[x]; c < parents.child_end[x]; ++c)
          cand.count[c] = and_popcount(s.acc.data(), bits.row(cand.item[c]), bits.words);
      });
}

// Estimated work of the two ways to count level k+1 (index k): a basket scan touches at most
// C(len, k+1) subsets per basket; the bit rows cost a row per parent item and per candidate.
bool vertical_is_cheaper(const Trie& trie, const std::vector<int64_t>& len_hist, int k, int64_t words) {
  double scan = 0.0;
  for (size_t len = static_cast<size_t>(k) + 1; len < len_hist.size(); ++len) {
    double c = 1.0;  // C(len, k+1)
    for (int i = 0; i <= k; ++i) c = c * static_cast<double>(len - i) / (i + 1);
    scan += c * static_cast<double>(len_hist[len]);
  }
  const double vertical = static_cast<double>(words) * (static_cast<double>(trie.levels[k].size()) +
                                                        static_cast<double>(k) * trie.levels[k - 1].size());
  return vertical < scan;
}

}  // namespace

ItemsetResult apriori(const CsrView& baskets, const MiningParams& params) {
  RecodedBaskets db = recode_baskets(baskets, params.min_count, params.n_threads);
  const auto n_frequent = static_cast<int64_t>(db.rank_item.size());
  ItemsetBudget budget(params.max_itemsets);
  Trie trie;
  Level first;
  for (int64_t r = 0; r < n_frequent; ++r) {
    first.item.push_back(static_cast<int32_t>(r));
    first.parent.push_back(-1);
  }
  first.count = db.rank_count;
  first.child_begin.assign(first.item.size(), 0);
  first.child_end.assign(first.item.size(), 0);
  first.alive.assign(first.item.size(), 0);
  trie.levels.push_back(std::move(first));
  budget.take(n_frequent);

  // Basket length histogram (for the cost estimate) and, when they fit in 256 MiB, the bit rows.
  std::vector<int64_t> len_hist;
  for (int64_t b = 0; b < db.n_baskets(); ++b) {
    const auto len = static_cast<size_t>(db.indptr[b + 1] - db.indptr[b]);
    if (len >= len_hist.size()) len_hist.resize(len + 1, 0);
    ++len_hist[len];
  }
  std::unique_ptr<ItemBits> bits;
  const double bit_bytes = 8.0 * static_cast<double>(n_frequent) * static_cast<double>((db.n_baskets() + 63) / 64);
  if (n_frequent > 0 && params.apriori_counting != 1 && bit_bytes <= 256.0 * (1 << 20))
    bits = std::make_unique<ItemBits>(db);

  for (int k = 1; n_frequent > 0 && (params.max_len == 0 || k < params.max_len); ++k) {
    if (!generate(trie, k)) break;
    Level& cand = trie.levels.back();
    const int64_t n_cand = cand.size();
    const int threads = threads_for(static_cast<int64_t>(db.ranks.size()), params.n_threads);
    const bool vertical =
        params.apriori_counting == 2 ||
        (params.apriori_counting == 0 && vertical_is_cheaper(trie, len_hist, k, bits ? bits->words : 0));
    if (bits && vertical) {
      count_vertical(trie, *bits, k, threads);
    } else {
      // Per-thread counters, summed after the loop.
      std::deque<std::vector<int64_t>> partial;  // deque: scratch pointers stay valid
      std::mutex merge;
      parallel_for(
          db.n_baskets(), threads, 256,
          [&] {
            std::lock_guard<std::mutex> lock(merge);
            partial.emplace_back(static_cast<size_t>(n_cand), 0);
            return partial.back().data();
          },
          [&](int64_t b, int64_t* cnt) {
            const int len = static_cast<int>(db.indptr[b + 1] - db.indptr[b]);
            if (len > k) trie.count(db.ranks.data() + db.indptr[b], len, 0, 0, 0, n_frequent, k, cnt);
          });
      for (const auto& part : partial)
        for (int64_t x = 0; x < n_cand; ++x) cand.count[x] += part[x];
    }
    prune_last(trie, params.min_count);
    if (trie.levels.back().size() == 0) {
      trie.levels.pop_back();
      break;
    }
    budget.take(trie.levels.back().size());
  }

  ItemsetResult result;
  std::vector<int32_t> items;
  for (int d = 0; d < static_cast<int>(trie.levels.size()); ++d) {
    const Level& lv = trie.levels[d];
    for (int64_t x = 0; x < lv.size(); ++x) {
      trie.itemset(d, x, items);
      result.push(items.data(), d + 1, lv.count[x]);
    }
  }
  ranks_to_items(result, db.rank_item, params.n_threads);
  return result;
}

}  // namespace crossrec
