#include "crossrec/fpgrowth.hpp"

#include <algorithm>
#include <deque>
#include <limits>
#include <vector>

#include "crossrec/parallel.hpp"

namespace crossrec {
namespace {

// Outline: items are ranked by frequency; the first projection of each item reads the baskets
// (project_top), deeper ones a prefix tree (project); a tree that is a single chain is
// enumerated directly (emit_chain). Top-level items are independent tasks.
//
// An FP-tree in flat arrays. Node 0 is the root. Items are local codes 0..n_items-1, listed in
// ascending order along every root-to-leaf path; codes follow the global frequency rank (not
// re-sorted per tree, so filtered paths stay sorted without a sort), so walking up from a node
// visits strictly smaller codes. Mining only ever walks upwards (parent links) and visits the
// nodes of one item (head lists), so no child lists are kept after building.
struct FPTree {
  // parent and item side by side: the upward walks that dominate mining touch one cache line
  // per step instead of two.
  struct Node {
    int32_t parent;
    int32_t item;
  };
  std::vector<int32_t> label;       // local item -> original item index
  std::vector<int64_t> item_count;  // local item -> support count in this tree
  std::vector<Node> node;
  std::vector<int64_t> count;
  std::vector<int32_t> head_ptr, head_nodes;  // nodes of each item, as CSR

  // Child lookup while building: open addressing on the key (parent, item). A hash table keeps
  // insertion O(path length) however many children a node has (sparse data has nodes with
  // thousands), and costs O(max_nodes) to set up, which the build pays anyway.
  std::vector<uint64_t> slot_key;
  std::vector<int32_t> slot_node;
  int shift = 64;

  int n_items() const { return static_cast<int>(label.size()); }
  int64_t n_nodes() const { return static_cast<int64_t>(node.size()) - 1; }

  void start(int items, size_t max_nodes) {
    label.resize(static_cast<size_t>(items));
    item_count.assign(static_cast<size_t>(items), 0);
    node.assign(1, Node{-1, -1});
    count.assign(1, 0);
    size_t cap = 16;
    int bits = 4;
    while (cap < 2 * (max_nodes + 1)) {
      cap <<= 1;
      ++bits;
    }
    shift = 64 - bits;
    slot_key.assign(cap, kEmpty);
    slot_node.resize(cap);
    node.reserve(max_nodes + 1);
    count.reserve(max_nodes + 1);
  }

  int32_t child(int32_t at, int32_t it) {
    const uint64_t key = (static_cast<uint64_t>(at) << 32) | static_cast<uint32_t>(it);
    const size_t mask = slot_key.size() - 1;
    size_t s = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift);
    while (slot_key[s] != kEmpty) {
      if (slot_key[s] == key) return slot_node[s];
      s = (s + 1) & mask;
    }
    const auto created = static_cast<int32_t>(node.size());
    slot_key[s] = key;
    slot_node[s] = created;
    node.push_back(Node{at, it});
    count.push_back(0);
    return created;
  }

  // path: ascending local items; w: how many baskets carry it.
  void insert(const int32_t* path, size_t len, int64_t w) {
    int32_t at = 0;
    for (size_t k = 0; k < len; ++k) {
      at = child(at, path[k]);
      count[at] += w;
      item_count[path[k]] += w;
    }
  }

  // Head lists by a counting sort of the nodes on their item.
  void finish() {
    const int m = n_items();
    head_ptr.assign(static_cast<size_t>(m) + 1, 0);
    for (int64_t n = 1; n <= n_nodes(); ++n) ++head_ptr[node[n].item + 1];
    for (int i = 0; i < m; ++i) head_ptr[i + 1] += head_ptr[i];
    head_nodes.resize(static_cast<size_t>(n_nodes()));
    std::vector<int32_t>& fill = slot_node;  // reuse as cursor storage: the build is over
    fill.assign(head_ptr.begin(), head_ptr.end() - 1);
    for (int64_t n = 1; n <= n_nodes(); ++n) head_nodes[fill[node[n].item]++] = static_cast<int32_t>(n);
    slot_key.clear();
  }

  // One chain root -> leaf: every node's parent is the node created just before it.
  bool single_path() const {
    for (int64_t n = 1; n <= n_nodes(); ++n)
      if (node[n].parent != n - 1) return false;
    return true;
  }

  static constexpr uint64_t kEmpty = std::numeric_limits<uint64_t>::max();
};

// Where each frequent item occurs in the recoded baskets: occurrence o (of item j, for o in
// occ_ptr[j] .. occ_ptr[j+1]) is at ranks[occ_at[o]] in the basket starting at occ_begin[o].
struct TopIndex {
  const int32_t* ranks = nullptr;
  const int64_t* counts = nullptr;
  const int32_t* rank_item = nullptr;
  std::vector<int64_t> occ_ptr, occ_begin, occ_at;
  int64_t count(int32_t j) const { return counts[j]; }

  explicit TopIndex(const RecodedBaskets& db)
      : ranks(db.ranks.data()), counts(db.rank_count.data()), rank_item(db.rank_item.data()) {
    const size_t n_items = db.rank_item.size();
    occ_ptr.assign(n_items + 1, 0);
    for (int32_t r : db.ranks) ++occ_ptr[r + 1];
    for (size_t i = 0; i < n_items; ++i) occ_ptr[i + 1] += occ_ptr[i];
    occ_begin.resize(db.ranks.size());
    occ_at.resize(db.ranks.size());
    std::vector<int64_t> fill(occ_ptr.begin(), occ_ptr.end() - 1);
    for (int64_t b = 0; b < db.n_baskets(); ++b) {
      for (int64_t p = db.indptr[b]; p < db.indptr[b + 1]; ++p) {
        const int64_t o = fill[db.ranks[p]]++;
        occ_begin[o] = db.indptr[b];
        occ_at[o] = p;
      }
    }
  }
};

// Per-thread mining state; trees[d] is reused for every conditional tree at recursion depth d.
class Miner {
 public:
  Miner(const MiningParams& params, ItemsetBudget& budget) : params_(params), budget_(budget) {}

  // Mines everything that ends with top-level item j into `out`.
  void mine_top(const TopIndex& top, int32_t j, ItemsetResult& out) {
    out_ = &out;
    prefix_.assign(1, top.rank_item[j]);
    emit(top.count(j));
    if (can_grow()) {
      FPTree& c = tree(1);
      if (project_top(top, j, c)) mine(c, 1);
    }
    budget_.take(pending_);
    pending_ = 0;
  }

 private:
  bool can_grow() const { return params_.max_len == 0 || static_cast<int>(prefix_.size()) < params_.max_len; }

  FPTree& tree(size_t depth) {
    while (trees_.size() <= depth) trees_.emplace_back();  // deque: references stay valid
    return trees_[depth];
  }

  void emit(int64_t count) {
    out_->push(prefix_.data(), static_cast<int>(prefix_.size()), count);
    if (++pending_ == 1024) {
      budget_.take(pending_);
      pending_ = 0;
    }
  }

  // Builds in `c` the tree of the prefix paths of item j of `t` (its conditional pattern base),
  // keeping only items frequent within it. Returns false when none is. The tree is walked once:
  // the paths are copied into a flat buffer (leaf to root) while counting, then filtered from it.
  bool project(const FPTree& t, int32_t j, FPTree& c) {
    cnt_.assign(static_cast<size_t>(j), 0);
    walked_.clear();
    ends_.clear();
    for (int32_t h = t.head_ptr[j]; h < t.head_ptr[j + 1]; ++h) {
      const int32_t n = t.head_nodes[h];
      const int64_t w = t.count[n];
      for (int32_t a = t.node[n].parent; a > 0;) {
        const FPTree::Node& up = t.node[a];
        cnt_[up.item] += w;
        walked_.push_back(up.item);
        a = up.parent;
      }
      ends_.push_back(walked_.size());
    }
    // Frequent items keep their relative order, so filtered paths stay sorted.
    remap_.resize(static_cast<size_t>(j));
    int32_t m = 0;
    for (int32_t i = 0; i < j; ++i) remap_[i] = cnt_[i] >= params_.min_count ? m++ : -1;
    if (m == 0) return false;
    c.start(m, walked_.size());
    for (int32_t i = 0; i < j; ++i)
      if (remap_[i] >= 0) c.label[remap_[i]] = t.label[i];
    size_t begin = 0;
    for (int32_t h = t.head_ptr[j]; h < t.head_ptr[j + 1]; ++h) {
      const size_t end = ends_[h - t.head_ptr[j]];
      path_.clear();
      for (size_t p = end; p > begin; --p) {  // root to leaf
        const int32_t r = remap_[walked_[p - 1]];
        if (r >= 0) path_.push_back(r);
      }
      begin = end;
      if (!path_.empty()) c.insert(path_.data(), path_.size(), t.count[t.head_nodes[h]]);
    }
    c.finish();
    return true;
  }

  // The first projection reads the baskets themselves: the pattern base of item j is the part
  // before j of every basket holding j (baskets are sorted by rank), contiguous in memory.
  // Sparse data (retail) barely compresses into a tree, and walking up a big tree is a cache
  // miss per step; dense data (mushroom) has few, short baskets, so this is cheap there too.
  bool project_top(const TopIndex& top, int32_t j, FPTree& c) {
    cnt_.assign(static_cast<size_t>(j), 0);
    for (int64_t o = top.occ_ptr[j]; o < top.occ_ptr[j + 1]; ++o) {
      const int32_t* first = top.ranks + top.occ_begin[o];
      const int32_t* last = top.ranks + top.occ_at[o];
      for (const int32_t* p = first; p != last; ++p) ++cnt_[*p];
    }
    remap_.resize(static_cast<size_t>(j));
    int32_t m = 0;
    size_t kept = 0;  // path items that survive the filter: weight 1 here, so the counts add up
    for (int32_t i = 0; i < j; ++i) {
      remap_[i] = cnt_[i] >= params_.min_count ? m++ : -1;
      if (remap_[i] >= 0) kept += static_cast<size_t>(cnt_[i]);
    }
    if (m == 0) return false;
    c.start(m, kept);
    for (int32_t i = 0; i < j; ++i)
      if (remap_[i] >= 0) c.label[remap_[i]] = top.rank_item[i];
    for (int64_t o = top.occ_ptr[j]; o < top.occ_ptr[j + 1]; ++o) {
      path_.clear();
      for (int64_t p = top.occ_begin[o]; p < top.occ_at[o]; ++p) {
        const int32_t r = remap_[top.ranks[p]];
        if (r >= 0) path_.push_back(r);
      }
      if (!path_.empty()) c.insert(path_.data(), path_.size(), 1);
    }
    c.finish();
    return true;
  }

  // prefix_ holds the items `t` is conditioned on; emits prefix + every itemset of t.
  void mine(const FPTree& t, size_t depth) {
    if (t.single_path()) {
      emit_chain(t);
      return;
    }
    for (int32_t j = t.n_items() - 1; j >= 0; --j) {
      prefix_.push_back(t.label[j]);
      emit(t.item_count[j]);
      if (can_grow()) {
        FPTree& c = tree(depth + 1);
        if (project(t, j, c)) mine(c, depth + 1);
      }
      prefix_.pop_back();
    }
  }

  // A single chain: every subset of its nodes is frequent, with the count of its deepest node.
  // Enumerated directly (no more projections); the budget is charged up front because the
  // number of subsets grows as 2^length.
  void emit_chain(const FPTree& t) {
    const int len = t.n_items();
    const int room = params_.max_len == 0 ? len : std::min(len, params_.max_len - static_cast<int>(prefix_.size()));
    if (room <= 0) return;
    // sum_{k=1..room} C(len, k), saturating
    const int64_t cap = std::numeric_limits<int64_t>::max() / 4;
    int64_t total = 0, binom = 1;
    for (int k = 1; k <= room; ++k) {
      const long double next = static_cast<long double>(binom) * (len - k + 1) / k;
      binom = next > static_cast<long double>(cap) ? cap : static_cast<int64_t>(next);
      total = std::min(cap, total + binom);
    }
    budget_.take(total);
    chain_subsets(t, 1, room);
  }

  void chain_subsets(const FPTree& t, int64_t from, int room) {
    for (int64_t n = from; n <= t.n_nodes(); ++n) {
      prefix_.push_back(t.label[t.node[n].item]);
      out_->push(prefix_.data(), static_cast<int>(prefix_.size()), t.count[n]);
      if (room > 1) chain_subsets(t, n + 1, room - 1);
      prefix_.pop_back();
    }
  }

  const MiningParams& params_;
  ItemsetBudget& budget_;
  std::deque<FPTree> trees_;
  std::vector<int64_t> cnt_;
  std::vector<int32_t> remap_, path_, prefix_, walked_;
  std::vector<size_t> ends_;
  ItemsetResult* out_ = nullptr;
  int64_t pending_ = 0;
};

}  // namespace

// The work FP-growth's first level does: every frequent item's conditional pattern base holds,
// per basket containing it, the basket's more frequent items, so their total size is
// sum_b L_b (L_b - 1) / 2 (L_b = frequent items in basket b). Deeper levels only shrink these
// bases, so it is a lower bound that grows with the real cost (Groceries at 0.1 %: 0.14 M,
// a 15 ms job; mushroom at 10 %: 1.7 M; retail at 0.05 %: 5.2 M).
static int64_t pattern_base_size(const RecodedBaskets& db) {
  int64_t total = 0;
  for (int64_t b = 0; b < db.n_baskets(); ++b) {
    const int64_t len = db.indptr[b + 1] - db.indptr[b];
    total += len * (len - 1) / 2;
  }
  return total;
}

ItemsetResult fpgrowth(const CsrView& baskets, const MiningParams& params) {
  RecodedBaskets db = recode_baskets(baskets, params.min_count, params.n_threads);
  const auto n_frequent = static_cast<int32_t>(db.rank_item.size());
  const TopIndex top(db);

  ItemsetBudget budget(params.max_itemsets);
  // Tasks run from the rarest item (longest pattern base) to the most frequent. On one thread
  // they write straight into the result; on several, each task gets its own part and the parts
  // are concatenated in task order, so the output is the same on any thread count.
  const int threads = threads_for(pattern_base_size(db), params.n_threads);
  if (resolve_threads(threads) == 1) {
    ItemsetResult result;
    Miner miner(params, budget);
    for (int32_t task = 0; task < n_frequent; ++task) miner.mine_top(top, n_frequent - 1 - task, result);
    return result;
  }
  std::vector<ItemsetResult> parts(static_cast<size_t>(n_frequent));
  parallel_for(
      n_frequent, threads, 1, [&] { return Miner(params, budget); },
      [&](int64_t task, Miner& miner) {
        miner.mine_top(top, static_cast<int32_t>(n_frequent - 1 - task), parts[static_cast<size_t>(task)]);
      });
  return concat_results(parts);
}

}  // namespace crossrec
