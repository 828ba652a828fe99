#include "crossrec/itemsets.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "crossrec/parallel.hpp"

namespace crossrec {

RecodedBaskets recode_baskets(const CsrView& baskets, int64_t min_count, [[maybe_unused]] int n_threads) {
  const int64_t n_items = baskets.n_cols;
  // stamp[i] == b + 1 once item i was counted for basket b: duplicates inside a basket count once.
  std::vector<int64_t> count(static_cast<size_t>(n_items), 0), stamp(static_cast<size_t>(n_items), 0);
  for (int64_t b = 0; b < baskets.n_rows; ++b) {
    for (int64_t p = baskets.begin(b); p < baskets.end(b); ++p) {
      const int32_t i = baskets.indices[p];
      if (stamp[i] != b + 1) {
        stamp[i] = b + 1;
        ++count[i];
      }
    }
  }
  RecodedBaskets out;
  for (int32_t i = 0; i < n_items; ++i)
    if (count[i] >= min_count) out.rank_item.push_back(i);
  // Most frequent first: shared prefixes then sit near the root of the FP-tree, and Apriori's
  // candidate trie is shallow where it is wide.
  std::stable_sort(out.rank_item.begin(), out.rank_item.end(),
                   [&](int32_t a, int32_t b) { return count[a] > count[b]; });
  std::vector<int32_t> rank_of(static_cast<size_t>(n_items), -1);
  out.rank_count.resize(out.rank_item.size());
  for (size_t r = 0; r < out.rank_item.size(); ++r) {
    rank_of[out.rank_item[r]] = static_cast<int32_t>(r);
    out.rank_count[r] = count[out.rank_item[r]];
  }
  out.indptr.reserve(static_cast<size_t>(baskets.n_rows) + 1);
  out.indptr.push_back(0);
  out.ranks.reserve(static_cast<size_t>(baskets.nnz()));
  for (int64_t b = 0; b < baskets.n_rows; ++b) {
    const size_t start = out.ranks.size();
    for (int64_t p = baskets.begin(b); p < baskets.end(b); ++p) {
      const int32_t r = rank_of[baskets.indices[p]];
      if (r >= 0) out.ranks.push_back(r);
    }
    auto first = out.ranks.begin() + static_cast<std::ptrdiff_t>(start);
    std::sort(first, out.ranks.end());
    out.ranks.erase(std::unique(first, out.ranks.end()), out.ranks.end());
    out.indptr.push_back(static_cast<int64_t>(out.ranks.size()));
  }
  return out;
}

void ranks_to_items(ItemsetResult& result, const std::vector<int32_t>& rank_item, [[maybe_unused]] int n_threads) {
  for (int32_t& r : result.items) r = rank_item[r];
}

void sort_itemsets(const int64_t* offsets, int64_t n_itemsets, int32_t* items, int n_threads) {
  constexpr int64_t kBlock = 4096;
  const int64_t n_blocks = (n_itemsets + kBlock - 1) / kBlock;
  parallel_for(n_blocks, threads_for(offsets[n_itemsets], n_threads), 1, [&](int64_t block) {
    const int64_t end = std::min(n_itemsets, (block + 1) * kBlock);
    for (int64_t s = block * kBlock; s < end; ++s) std::sort(items + offsets[s], items + offsets[s + 1]);
  });
}

ItemsetResult concat_results(std::vector<ItemsetResult>& parts) {
  ItemsetResult out;
  size_t n_items = 0, n_sets = 0;
  for (auto& part : parts) {
    n_items += part.items.size();
    n_sets += part.counts.size();
  }
  out.items.reserve(n_items);
  out.counts.reserve(n_sets);
  out.offsets.reserve(n_sets + 1);
  for (auto& part : parts) {
    const int64_t base = static_cast<int64_t>(out.items.size());
    out.items.insert(out.items.end(), part.items.begin(), part.items.end());
    out.counts.insert(out.counts.end(), part.counts.begin(), part.counts.end());
    for (size_t s = 1; s < part.offsets.size(); ++s) out.offsets.push_back(base + part.offsets[s]);
    part = ItemsetResult();  // release memory as we go
  }
  return out;
}

void ItemsetBudget::take(int64_t n) {
  // n > limit_ first: a single huge request must not overflow the counter
  if (n > limit_ || used_.fetch_add(n, std::memory_order_relaxed) + n > limit_)
    throw std::length_error("more than max_itemsets=" + std::to_string(limit_) +
                            " frequent itemsets; raise min_support, set max_len, or raise max_itemsets");
}

}  // namespace crossrec
