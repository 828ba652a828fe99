// FP-growth (Han, Pei & Yin 2000): frequent itemsets by recursive projection of a prefix tree.
#pragma once
#include "crossrec/csr.hpp"
#include "crossrec/itemsets.hpp"

namespace crossrec {

// All itemsets occurring in at least params.min_count rows of `baskets` (rows = baskets,
// columns = items; data ignored, duplicates inside a row count once). `baskets` must be valid.
// Parallel over the top-level items; the output order does not depend on the thread count.
// Throws std::length_error when more than params.max_itemsets itemsets exist.
ItemsetResult fpgrowth(const CsrView& baskets, const MiningParams& params);

}  // namespace crossrec
