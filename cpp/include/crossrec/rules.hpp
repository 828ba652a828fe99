// Association rules from frequent itemsets, and scoring items by the rules a basket triggers.
#pragma once
#include <cstdint>
#include <vector>

#include "crossrec/csr.hpp"

namespace crossrec {

enum class RuleMetric { support = 0, confidence = 1, lift = 2, leverage = 3, conviction = 4 };

// The value of `metric` for a rule X -> Y from the support fractions of X u Y, X and Y.
// conviction is +inf when confidence is 1.
double rule_metric(RuleMetric metric, double s_xy, double s_x, double s_y);

// Rule r splits itemset itemset[r] into the antecedent (the items whose position bit is set in
// antecedent_mask[r]) and the consequent (the other items).
struct RuleResult {
  std::vector<int64_t> itemset;
  std::vector<uint64_t> antecedent_mask;
  std::vector<double> antecedent_support, consequent_support;
};

// Every rule X -> Y (X, Y non-empty, disjoint, X u Y a given itemset, |Y| <= max_consequent
// when max_consequent > 0) whose metric is >= min_threshold. Itemsets: CSR-like offsets/items
// (items sorted ascending, at most 63 per itemset) with support fractions; every subset of an
// itemset must itself be listed (true of complete frequent-itemset output), otherwise
// std::invalid_argument. Parallel over itemsets; the order is that of the itemsets.
// Throws std::length_error when more than max_rules rules pass.
RuleResult association_rules(const int64_t* offsets, const int32_t* items, const double* support, int64_t n_itemsets,
                             RuleMetric metric, double min_threshold, int max_consequent, int64_t max_rules,
                             int n_threads);

// out[r, i] (n_rows x consequents.n_cols, row-major) = the max (or, with sum_scores, the sum)
// of weights[k] over the rules k whose antecedent lies inside basket row rows[r] and whose
// consequent holds item i; -inf where no rule fires. antecedents/consequents: rules x items.
void rule_scores(const CsrView& baskets, const int32_t* rows, int64_t n_rows, const CsrView& antecedents,
                 const CsrView& consequents, const float* weights, bool sum_scores, float* out, int n_threads);

}  // namespace crossrec
