// SVD++ (Koren, KDD 2008, section 4): explicit ratings with an implicit-feedback term,
//   r_ui ~ mu + b_u + b_i + q_i . (p_u + |I_u|^-1/2 sum_{j in I_u} y_j),
// trained by the per-rating SGD of Surprise's SVDpp (the same update rules, rating by rating,
// user by user).
//
// The per-rating update of Surprise touches every y_j of the user's items, O(|I_u| f) per
// rating. All those y_j receive the same affine update y <- a y + lr_yj g (a = 1 - lr_yj reg_yj,
// g = e q_i / sqrt|I_u|), so within one user's block of ratings they stay of the form
// y_j = c y_j0 + D for one scalar c and one vector D, and their sum is c S0 + |I_u| D. The kernel
// keeps c, D and the running sum and writes the y_j once at the end of the block: the same
// iterates as Surprise's loop (up to rounding) in O(f) per rating plus O(|I_u| f) per user.
//
// The epoch is sequential: consecutive users share items (q_i, y_j), and Surprise's results are
// those of one rating after the other in a fixed order. The order is the caller's: users in
// `user_order` (or 0..n-1), each user's ratings in the stored order of its row, so a seeded
// shuffle of both gives the same result on any machine and thread count.
#pragma once
#include <cstdint>

#include "crossrec/csr.hpp"
#include "crossrec/work_size.hpp"

namespace crossrec {

struct SvdppParams {
  double lr_bu = 0.007, lr_bi = 0.007, lr_pu = 0.007, lr_qi = 0.007, lr_yj = 0.007;
  double reg_bu = 0.02, reg_bi = 0.02, reg_pu = 0.02, reg_qi = 0.02, reg_yj = 0.02;
};

struct SvdppState {
  float* P = nullptr;          // n_users x f
  float* Q = nullptr;          // n_items x f
  float* Y = nullptr;          // n_items x f, implicit item factors
  float* user_bias = nullptr;  // n_users
  float* item_bias = nullptr;  // n_items
  int64_t f = 0;
};

// One epoch over every stored rating; returns the sum of squared errors (before each update).
// user_order: n_rows user indices to visit (each at most once), or null for 0..n_rows-1.
double svdpp_epoch(const CsrView& ratings, const int32_t* user_order, int64_t n_order, double global_mean,
                   const SvdppState& state, const SvdppParams& params);

// Effective user vectors p_u + |I_u|^-1/2 sum_{j in I_u} y_j (n_users x f), rows in parallel.
void svdpp_user_vectors(const CsrView& ratings, const float* P, const float* Y, int64_t f, float* out, int n_threads,
                        double min_work = kMinParallelWork);

}  // namespace crossrec
