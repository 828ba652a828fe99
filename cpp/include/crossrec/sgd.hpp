// Stochastic gradient epochs for biased matrix factorisation (explicit ratings) and BPR
// (implicit feedback, sampled negatives).
//
// Determinism on any thread count: stratified SGD (DSGD, Gemulla et al. 2011). Each epoch, users
// and items are hashed into kStrata groups (re-drawn per epoch from (seed, epoch)); the stored
// entries fall into kStrata x kStrata blocks. Sub-epoch s runs the blocks (g, (g + s) mod kStrata)
// for all g in parallel: they share no user and no item, so no two threads write the same row.
// Each block visits its entries in an order shuffled by its own Rng(seed, epoch * kStrata^2 + block),
// so the result depends on (seed, epoch) only. Cost compared with Hogwild: one O(nnz) bucketing per
// epoch and up to kStrata barriers; for BPR the negative item of a sample is drawn from the positive
// item's group (uniform over all items across epochs, since the groups are re-drawn).
#pragma once
#include <cstdint>

#include "crossrec/als.hpp"  // RowPrior
#include "crossrec/csr.hpp"

namespace crossrec {

constexpr int kStrata = 16;

struct SgdParams {
  float learning_rate = 0.005f;
  float regularization = 0.02f;       // on factors, per sample
  float bias_regularization = 0.02f;  // on biases, per sample
  uint64_t seed = 0;
  uint64_t epoch = 0;
};

// Mutable factor state of one model: X (n_users x f), Y (n_items x f), optional biases.
struct FactorState {
  float* X = nullptr;
  float* Y = nullptr;
  float* user_bias = nullptr;  // null: no biases
  float* item_bias = nullptr;
  // Optional target of the user biases (n_users), pulled with the user prior's weight w_u:
  // 0.5 w_u (b_u - t_u)^2 (the rating level a transfer method carries over from a source domain).
  const float* user_bias_target = nullptr;
  int64_t f = 0;
};

// One epoch of biased SGD over every stored rating r_ui (weight v_ui, default 1), minimising per
// sample 0.5 v e^2 + 0.5 reg (|x_u|^2 + |y_i|^2) + 0.5 reg_b (b_u^2 + b_i^2)
//   + 0.5 w_u |x_u - t_u|^2 + 0.5 w_i |y_i - t_i|^2 [+ 0.5 w_u (b_u - user_bias_target_u)^2],
// with e = r - (mu + b_u + b_i + x_u . y_i).
// Returns sum v e^2 over the epoch (errors before each update).
double sgd_epoch(const CsrView& ratings, const float* weights, float global_mean, const FactorState& state,
                 const SgdParams& params, const RowPrior& user_prior, const RowPrior& item_prior, int n_threads);

// One epoch of BPR (Rendle et al. 2009): one sample per stored entry with value > 0 (the
// positive i), a negative j not stored in u's row, minimising per sample
// -log sigmoid(x_u . (y_i - y_j) + b_i - b_j) + 0.5 reg (|x_u|^2 + |y_i|^2 + |y_j|^2 + b_i^2 + b_j^2)
//   + prior terms. item_bias may be null. Writes the summed loss and the number of samples with
// x_uij > 0 (before the update); returns the number of samples taken.
int64_t bpr_epoch(const CsrView& interactions, const FactorState& state, const SgdParams& params,
                  const RowPrior& user_prior, const RowPrior& item_prior, int n_threads, double* loss,
                  int64_t* correct);

}  // namespace crossrec
