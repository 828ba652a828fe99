#include "crossrec/fpgrowth.hpp"

#include <algorithm>
#include <deque>
#include <limits>
#include <vector>

#include "crossrec/parallel.hpp"

namespace crossrec {
namespace {

// An FP-tree in flat arrays. Node 0 is the root. Items are local codes 0..n_items-1, listed in
// ascending order along every root-to-leaf path (0 = most frequent), so walking up from a node
// visits strictly smaller codes. Mining only ever walks upwards (parent links) and visits the
// nodes of one item (head lists), so no child lists are kept after building.
struct FPTree {
  std::vector<int32_t> label;       // local item -> global rank
  std::vector<int64_t> item_count;  // local item -> support count in this tree
  std::vector<int32_t> parent, item;
  std::vector<int64_t> count;
  std::vector<int32_t> head_ptr, head_nodes;  // nodes of each item, as CSR

  // Child lookup while building: open addressing on the key (parent, item). A hash table keeps
  // insertion O(path length) however many children a node has (sparse data has nodes with
  // thousands), and costs O(max_nodes) to set up, which the build pays anyway.
  std::vector<uint64_t> slot_key;
  std::vector<int32_t> slot_node;
  int shift = 64;

  int n_items() const { return static_cast<int>(label.size()); }
  int64_t n_nodes() const { return static_cast<int64_t>(parent.size()) - 1; }

  void start(int items, size_t max_nodes) {
    label.resize(static_cast<size_t>(items));
    item_count.assign(static_cast<size_t>(items), 0);
    parent.assign(1, -1);
    item.assign(1, -1);
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
    parent.reserve(max_nodes + 1);
    item.reserve(max_nodes + 1);
    count.reserve(max_nodes + 1);
  }

  int32_t child(int32_t node, int32_t it) {
    const uint64_t key = (static_cast<uint64_t>(node) << 32) | static_cast<uint32_t>(it);
    const size_t mask = slot_key.size() - 1;
    size_t s = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift);
    while (slot_key[s] != kEmpty) {
      if (slot_key[s] == key) return slot_node[s];
      s = (s + 1) & mask;
    }
    const auto created = static_cast<int32_t>(parent.size());
    slot_key[s] = key;
    slot_node[s] = created;
    parent.push_back(node);
    item.push_back(it);
    count.push_back(0);
    return created;
  }

  // path: ascending local items; w: how many baskets carry it.
  void insert(const int32_t* path, size_t len, int64_t w) {
    int32_t node = 0;
    for (size_t k = 0; k < len; ++k) {
      node = child(node, path[k]);
      count[node] += w;
      item_count[path[k]] += w;
    }
  }

  // Head lists by a counting sort of the nodes on their item.
  void finish() {
    const int m = n_items();
    head_ptr.assign(static_cast<size_t>(m) + 1, 0);
    for (int64_t n = 1; n <= n_nodes(); ++n) ++head_ptr[item[n] + 1];
    for (int i = 0; i < m; ++i) head_ptr[i + 1] += head_ptr[i];
    head_nodes.resize(static_cast<size_t>(n_nodes()));
    std::vector<int32_t>& fill = slot_node;  // reuse as cursor storage: the build is over
    fill.assign(head_ptr.begin(), head_ptr.end() - 1);
    for (int64_t n = 1; n <= n_nodes(); ++n) head_nodes[fill[item[n]]++] = static_cast<int32_t>(n);
    slot_key.clear();
  }

  // One chain root -> leaf: every node's parent is the node created just before it.
  bool single_path() const {
    for (int64_t n = 1; n <= n_nodes(); ++n)
      if (parent[n] != n - 1) return false;
    return true;
  }

  static constexpr uint64_t kEmpty = std::numeric_limits<uint64_t>::max();
};

// Per-thread mining state; trees[d] is reused for every conditional tree at recursion depth d.
class Miner {
 public:
  Miner(const MiningParams& params, ItemsetBudget& budget) : params_(params), budget_(budget) {}

  // Mines everything that ends with top-level item j of `top` into `out`.
  void mine_top(const FPTree& top, int32_t j, ItemsetResult& out) {
    out_ = &out;
    prefix_.assign(1, top.label[j]);
    emit(top.item_count[j]);
    if (can_grow()) {
      FPTree& c = tree(1);
      if (project(top, j, c)) mine(c, 1);
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
  // keeping only items frequent within it. Returns false when none is.
  bool project(const FPTree& t, int32_t j, FPTree& c) {
    cnt_.assign(static_cast<size_t>(j), 0);
    size_t total = 0;
    for (int32_t h = t.head_ptr[j]; h < t.head_ptr[j + 1]; ++h) {
      const int32_t n = t.head_nodes[h];
      const int64_t w = t.count[n];
      for (int32_t a = t.parent[n]; a > 0; a = t.parent[a]) {
        cnt_[t.item[a]] += w;
        ++total;
      }
    }
    // Frequent items keep their relative order, so filtered paths stay sorted.
    remap_.resize(static_cast<size_t>(j));
    int32_t m = 0;
    for (int32_t i = 0; i < j; ++i) remap_[i] = cnt_[i] >= params_.min_count ? m++ : -1;
    if (m == 0) return false;
    c.start(m, total);
    for (int32_t i = 0; i < j; ++i)
      if (remap_[i] >= 0) c.label[remap_[i]] = t.label[i];
    for (int32_t h = t.head_ptr[j]; h < t.head_ptr[j + 1]; ++h) {
      const int32_t n = t.head_nodes[h];
      path_.clear();
      for (int32_t a = t.parent[n]; a > 0; a = t.parent[a]) {
        const int32_t r = remap_[t.item[a]];
        if (r >= 0) path_.push_back(r);
      }
      if (path_.empty()) continue;
      std::reverse(path_.begin(), path_.end());
      c.insert(path_.data(), path_.size(), t.count[n]);
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
    const int room = params_.max_len == 0 ? len
                                          : std::min(len, params_.max_len - static_cast<int>(prefix_.size()));
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
      prefix_.push_back(t.label[t.item[n]]);
      out_->push(prefix_.data(), static_cast<int>(prefix_.size()), t.count[n]);
      if (room > 1) chain_subsets(t, n + 1, room - 1);
      prefix_.pop_back();
    }
  }

  const MiningParams& params_;
  ItemsetBudget& budget_;
  std::deque<FPTree> trees_;
  std::vector<int64_t> cnt_;
  std::vector<int32_t> remap_, path_, prefix_;
  ItemsetResult* out_ = nullptr;
  int64_t pending_ = 0;
};

}  // namespace

ItemsetResult fpgrowth(const CsrView& baskets, const MiningParams& params) {
  RecodedBaskets db = recode_baskets(baskets, params.min_count, params.n_threads);
  const auto n_frequent = static_cast<int32_t>(db.rank_item.size());
  FPTree top;
  top.start(n_frequent, db.ranks.size());
  for (int32_t r = 0; r < n_frequent; ++r) top.label[r] = r;
  for (int64_t b = 0; b < db.n_baskets(); ++b)
    top.insert(db.ranks.data() + db.indptr[b], static_cast<size_t>(db.indptr[b + 1] - db.indptr[b]), 1);
  top.finish();

  ItemsetBudget budget(params.max_itemsets);
  // One result per top-level item, concatenated in item order: identical on any thread count.
  // The rarest items have the longest prefix paths, so they are handed out first.
  std::vector<ItemsetResult> parts(static_cast<size_t>(n_frequent));
  parallel_for(
      n_frequent, threads_for(static_cast<int64_t>(db.ranks.size()), params.n_threads), 1, [&] { return Miner(params, budget); },
      [&](int64_t task, Miner& miner) {
        const auto j = static_cast<int32_t>(n_frequent - 1 - task);
        miner.mine_top(top, j, parts[static_cast<size_t>(task)]);
      });
  ItemsetResult result = concat_results(parts);
  finish_itemsets(result, db.rank_item, params.n_threads);
  return result;
}

}  // namespace crossrec
