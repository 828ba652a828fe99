// Non-negative matrix factorisation for ratings (Luo et al. 2014; Surprise's NMF): r_ui ~ q_i . p_u
// (optionally mu + b_u + b_i + q_i . p_u with SGD biases), factors kept non-negative by
// multiplicative updates. One epoch, as in Surprise:
//   est_ui = [mu + b_u + b_i +] p_u . q_i           (biases updated by SGD while passing)
//   p_uf <- p_uf * sum_i q_if r_ui / (sum_i q_if est_ui + reg_pu |I_u| p_uf)
//   q_if <- q_if * sum_u p_uf r_ui / (sum_u p_uf est_ui + reg_qi |U_i| q_if)
// with every numerator and denominator taken from the factors at the start of the epoch (a
// Jacobi step). Without biases everything is parallel: est by user rows, the user sums by rows,
// the item sums over the item-major copy, each output row written by one thread, sums in a fixed
// order, so the result is the same on any thread count. With biases the pass that computes est
// and updates b_u, b_i is sequential (each rating's estimate uses the biases its predecessors
// left), in the caller's order: users in `user_order`, ratings in stored row order.
#pragma once
#include <cstdint>

#include "crossrec/csr.hpp"
#include "crossrec/work_size.hpp"

namespace crossrec {

struct NmfParams {
  double reg_pu = 0.06, reg_qi = 0.06;
  double reg_bu = 0.02, reg_bi = 0.02, lr_bu = 0.005, lr_bi = 0.005;
  bool biased = false;
};

// ratings: users x items (row entries in visiting order); by_item: the same entries item-major
// (items x users, rows sorted by user), with item_pos[k] the position in `ratings` of entry k of
// by_item. P (n_users x f), Q (n_items x f) updated in place; biases (may be null when !biased).
// Runs n_epochs epochs (an epoch of a small data set costs about as much as a call from Python)
// and returns the sum of squared errors of est (before the update) in the last one.
double nmf_epochs(int64_t n_epochs, const CsrView& ratings, const CsrView& by_item, const int64_t* item_pos,
                  const int32_t* user_order, int64_t n_order, double global_mean, float* P, float* Q, float* user_bias,
                  float* item_bias, int64_t f, const NmfParams& params, int n_threads,
                  double min_work = kMinParallelWork);

}  // namespace crossrec
