// Neighbourhood rating prediction and top-N scoring for many queries at once.
//
// Orientation: "x" is the entity whose neighbours are used (users for user-based, items for
// item-based) and "y" the other side. X is the x-by-y rating matrix, XT its transpose.
#pragma once
#include <cstdint>

#include <vector>

#include "crossrec/csr.hpp"
#include "crossrec/similarity.hpp"

namespace crossrec {

enum class Centering : int { none = 0, mean = 1, baseline = 2 };

// How a prediction for (x, y) is formed from the neighbours N (sim > 0, at most k of them):
//   none      r = sum_N s r_x2y / sum_N s                                  (Surprise KNNBasic)
//   mean      r = mean_x + sum_N s (r_x2y - mean_x2) / sum_N s              (KNNWithMeans)
//   baseline  r = b_xy + sum_N s (r_x2y - b_x2y) / sum_N s, b_xy = mu + bx_x + by_y  (KNNBaseline)
// Fallbacks, as Surprise: x or y without training ratings -> global mean (none, mean) or b_xy
// (baseline); fewer than min_k neighbours -> global mean (none), mean_x (mean), b_xy (baseline).
// With clip, predictions are clipped to [lo, hi].
struct PredictParams {
  Centering centering = Centering::none;
  int k = 40;
  int min_k = 1;
  double global_mean = 0.0;
  const double* x_mean = nullptr;  // mean: per-x mean rating
  const float* bx = nullptr;       // baseline: biases of x and y
  const float* by = nullptr;
  bool clip = false;
  double lo = 0.0, hi = 0.0;
};

// Surprise's neighbour rule: the k most similar x2 AMONG THOSE WHO RATED y. The similarity row of
// each distinct query x is computed on the fly (sim_rows / sim_cols: the matrix the similarity
// is defined on, e.g. baseline residuals), so nothing of size n_x^2 is ever stored.
// out_k (optional) receives the number of neighbours used.
void knn_predict_rated(const CsrView& X, const CsrView& XT, const CsrView& sim_rows, const CsrView& sim_cols,
                       const double* norms, const SimOptions& opt, const PredictParams& pp, const int32_t* qx,
                       const int32_t* qy, int64_t n_queries, float* out, int32_t* out_k, int n_threads);

// The similarity row of x exactly as knn_predict_rated ranks it (same accumulator, double
// values, so explanations pick the same neighbours even where float32 would tie): every row j != x
// with a non-zero similarity, sorted by j, into out_idx / out_sim (cleared first).
void knn_similarity_row(const CsrView& sim_rows, const CsrView& sim_cols, const double* norms, const SimOptions& opt,
                        int32_t x, std::vector<int32_t>& out_idx, std::vector<double>& out_sim);

// Scalable rule: the neighbours are the fixed top-k list of x (a CSR `neighbors`, n_x x n_x,
// sorted indices) restricted to those who rated y. X must have sorted indices (binary search).
void knn_predict_fixed(const CsrView& X, const CsrView& XT, const CsrView& neighbors, const PredictParams& pp,
                       const int32_t* qx, const int32_t* qy, int64_t n_queries, float* out, int32_t* out_k,
                       int n_threads);

// Top-n of score(q, t) = sum_{(c, a) in A[rows[q]]} a * B[c, t] (item-based: A = user rows,
// B = item neighbours; user-based: A = user neighbours, B = ratings). Items no entry reaches
// score 0. Ties (including all those zeros) go to the lower tie_rank (e.g. popularity rank),
// then the lower item index. exclude (optional): row exclude_rows[q] lists items to skip;
// allowed (optional, length n_items): 0 marks items that may not be returned.
// out_scored[q] = number of returned items that some entry reached (0 = pure fallback).
void knn_recommend(const CsrView& A, const int32_t* rows, int64_t n_queries, const CsrView& B, const int32_t* tie_rank,
                   const int32_t* fallback_order, const CsrView* exclude, const int32_t* exclude_rows,
                   const uint8_t* allowed, int n, int32_t* out_items, float* out_scores, int32_t* out_scored,
                   int n_threads);

}  // namespace crossrec
