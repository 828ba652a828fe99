// Slope One (Lemire & Maclachlan 2005) as Surprise's SlopeOne, on a sparse item x item table.
//   dev(i, j) = mean over users who rated both of (r_ui - r_uj), freq(i, j) = their number,
// stored for co-rated pairs only (the diagonal included, dev 0), rows sorted by column.
// Prediction for (u, i), R_i(u) = items j rated by u with freq(i, j) > 0:
//   plain (Surprise):          mu_u + mean_{j in R_i(u)} dev(i, j)        (mu_u when R_i(u) is empty)
//   weighted (Lemire's):       sum_j (dev(i, j) + r_uj) freq(i, j) / sum_j freq(i, j)
// and the global mean when u or i has no training rating. dev(j, i) = -dev(i, j) bit for bit
// (each sum adds the negated terms in the same user order), so scoring a user's whole catalogue
// walks the rows of the user's own items.
#pragma once
#include <cstdint>
#include <vector>

#include "crossrec/csr.hpp"
#include "crossrec/work_size.hpp"

namespace crossrec {

struct SlopeOneTable {
  std::vector<int64_t> indptr;  // n_items + 1
  std::vector<int32_t> indices;
  std::vector<float> dev;
  std::vector<int32_t> freq;
};

// ratings: users x items with sorted rows; by_item: items x users with sorted rows, same values.
SlopeOneTable slope_one_fit(const CsrView& ratings, const CsrView& by_item, int n_threads,
                            double min_work = kMinParallelWork);

struct SlopeOneModel {
  CsrView table;            // the item x item table: indices, dev in data
  const int32_t* freq;      // aligned with table.indices
  CsrView ratings;          // users x items training ratings, sorted rows
  const double* user_mean;  // per user (unused for users without ratings)
  const int32_t* item_count;
  double global_mean;
  bool weighted;
};

// Predictions of the pairs (users[k], items[k]), clipped to [lo, hi] when clip.
void slope_one_predict(const SlopeOneModel& m, const int32_t* users, const int32_t* items, int64_t n, bool clip,
                       double lo, double hi, float* out, int n_threads, double min_work = kMinParallelWork);

// Unclipped estimates of every item for each given user: out is n x n_items.
void slope_one_scores(const SlopeOneModel& m, const int32_t* users, int64_t n, float* out, int n_threads,
                      double min_work = kMinParallelWork);

}  // namespace crossrec
