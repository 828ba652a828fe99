// Shared pieces of the frequent-itemset miners (fpgrowth.hpp, apriori.hpp): the basket recoding,
// the flat output buffers and the itemset-count limit.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "crossrec/csr.hpp"

namespace crossrec {

// Settings shared by the miners. min_count >= 1 is an absolute support count.
struct MiningParams {
  int64_t min_count = 1;
  int max_len = 0;  // 0 = no limit on itemset length
  int64_t max_itemsets = INT64_MAX;
  int n_threads = 0;  // 0 = all cores
  // Apriori only: how to count candidates. 0 = per level, whichever is estimated cheaper;
  // 1 = always scan the baskets; 2 = always AND bit rows (tests pin each one down).
  int apriori_counting = 0;
};

// Frequent itemsets as flat arrays: itemset s holds items[offsets[s] .. offsets[s+1]) (original
// item indices, in mining order, not sorted: sort_itemsets() sorts them when a caller needs it,
// which mining itself never does) and occurs in counts[s] baskets. The empty itemset is not
// reported.
struct ItemsetResult {
  std::vector<int64_t> offsets{0};
  std::vector<int32_t> items;
  std::vector<int64_t> counts;

  int64_t size() const { return static_cast<int64_t>(counts.size()); }
  void push(const int32_t* first, int len, int64_t count) {
    items.insert(items.end(), first, first + len);
    offsets.push_back(static_cast<int64_t>(items.size()));
    counts.push_back(count);
  }
};

// The baskets restricted to frequent items, each item replaced by its rank (0 = most frequent;
// ties by item index), each basket sorted by rank without duplicates.
struct RecodedBaskets {
  std::vector<int32_t> rank_item;   // rank -> original item index
  std::vector<int64_t> rank_count;  // rank -> support count
  std::vector<int64_t> indptr;
  std::vector<int32_t> ranks;
  int64_t n_baskets() const { return static_cast<int64_t>(indptr.size()) - 1; }
};

// Counts items (a duplicate inside one basket counts once) and recodes. `baskets` must be valid.
RecodedBaskets recode_baskets(const CsrView& baskets, int64_t min_count, int n_threads);

// Maps ranks back to item indices, in place.
void ranks_to_items(ItemsetResult& result, const std::vector<int32_t>& rank_item, int n_threads);

// Sorts the items inside each itemset (offsets must be valid), in place.
void sort_itemsets(const int64_t* offsets, int64_t n_itemsets, int32_t* items, int n_threads);

// Concatenates per-task results in task order (so the output does not depend on thread count).
ItemsetResult concat_results(std::vector<ItemsetResult>& parts);

// Threads worth starting for `work` units (roughly item occurrences touched): waking a thread
// team costs more than small inputs take to mine, badly so on a loaded machine, where a parallel
// region waits a time slice or more for each thread (a 15 ms Groceries job on 2 threads ran at
// 0.8x pyfim's single-threaded speed). About a million units is ~1-10 ms of one core.
constexpr int64_t kMinParallelItemsetWork = 1'000'000;
inline int threads_for(int64_t work, int n_threads) { return work < kMinParallelItemsetWork ? 1 : n_threads; }

// Stops mining with a clear error once more than `limit` itemsets have been found, before
// memory runs out. Threads report in batches to keep the shared counter off the hot path.
class ItemsetBudget {
 public:
  explicit ItemsetBudget(int64_t limit) : limit_(limit) {}
  // Reserve n more itemsets; throws std::length_error past the limit.
  void take(int64_t n);
  int64_t limit() const { return limit_; }

 private:
  int64_t limit_;
  std::atomic<int64_t> used_{0};
};

}  // namespace crossrec
