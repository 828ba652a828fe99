// Apriori (Agrawal & Srikant 1994): level-wise candidate generation and counting, kept as a
// cross-check of FP-growth and for users who ask for it.
#pragma once
#include "crossrec/csr.hpp"
#include "crossrec/itemsets.hpp"

namespace crossrec {

// Same contract and output as fpgrowth(): every itemset in at least params.min_count rows.
// Itemsets come level by level (all 1-itemsets, then all 2-itemsets, ...). Counting is
// parallel over baskets (integer sums, so identical on any thread count).
ItemsetResult apriori(const CsrView& baskets, const MiningParams& params);

}  // namespace crossrec
