// Knowledge distillation for a factor-model student: one SGD epoch whose loss mixes the
// ground-truth loss on the target interactions with a distillation loss on a teacher's top-K.
//
// Student: score(u, i) = P[u] . Q[i] + b[i]   (b optional; for squared error the rating is
// predicted as mu + c[u] + score(u, i), c optional). Loss per user u:
//   (1 - alpha) * ground truth(u) + alpha * distill(u) + L2 on the rows an update touches.
//
// Ground truth (on the user's row of `train`; one draw per stored interaction, with replacement):
//   bpr:     -log sigmoid(s_ui - s_uj), j a sampled item the user has not interacted with
//   squared: 1/2 (r_ui - mu - c_u - s_ui)^2
// Distillation, on a candidate set C = A + N drawn for the user each epoch:
//   A = `n_samples` distinct positions of the teacher's top-K list (all of them when K <= n_samples),
//   N = `n_negatives` uniformly sampled items in neither the top-K list nor the user's train row.
//   Teacher scores t_a are given for A; every item of N gets the target `rest[u]` (the teacher's
//   mean score over the items outside its top-K, computed by the caller), T = temperature.
//   pointwise: 1/2 sum_{a in A} (s_a - t_a / T)^2 + 1/2 sum_{n in N} (s_n - rest_u / T)^2
//   ranking:   -sum_{a in A} w_a log sigmoid(s_a) - sum_{n in N} log sigmoid(-s_n)   (Tang & Wang 2018)
//              w_a = K_u * softmax(t / T) over the user's whole top-K list, so weights decay with
//              teacher rank and average 1; the temperature sets how fast they decay.
//   listwise:  |C| T^2 KL(p || q), p = softmax(t'/T), q = softmax(s/T) over C, with t' = t on A
//              and rest_u on N. Hinton's T^2 keeps gradient sizes comparable across T; the factor
//              |C| gives each candidate a gradient of the size the two other losses (sums of one
//              term per candidate) give it, so one learning rate suits all three.
//
// Determinism on any thread count: users are shuffled per epoch by Rng(seed, epoch) and cut into
// blocks of kBlockUsers; kRoundBlocks blocks form a round. Inside a round blocks run in parallel;
// each block owns its users' rows of P and c (written in place) and works on private copies of
// the item rows it touches (exact sequential SGD inside the block). At the end of the round each
// block's item deltas are added to Q and b in block order, items partitioned between threads.
// Every sum then has the same order whatever the thread count. Random draws come from
// Rng(seed, stream(epoch, user)), one stream for the ground truth and one for distillation, so
// alpha = 0 reproduces the plain student draw for draw.
#pragma once
#include <cstdint>

#include "crossrec/csr.hpp"

namespace crossrec {

enum class GroundTruth : int { none = 0, bpr = 1, squared = 2 };
enum class DistillLoss : int { none = 0, pointwise = 1, ranking = 2, listwise = 3 };

constexpr int64_t kDistillBlockUsers = 16;   // users per block (one Rng-independent unit of work)
constexpr int64_t kDistillRoundBlocks = 16;  // blocks whose item updates are merged together

// Teacher knowledge per student user: up to k items best first (-1 pads the tail) and their scores.
struct TeacherView {
  const int32_t* items = nullptr;  // n_rows x k
  const float* scores = nullptr;   // n_rows x k
  const float* rest = nullptr;     // n_rows: target for sampled items outside the top-K
  const float* weights = nullptr;  // n_rows x k ranking weights, or null: computed per user and epoch
  int64_t n_rows = 0;
  int64_t k = 0;
};

// The student's parameters, updated in place.
struct StudentView {
  float* user_factors = nullptr;  // n_users x n_factors
  float* item_factors = nullptr;  // n_items x n_factors
  float* item_bias = nullptr;     // n_items or null
  float* user_bias = nullptr;     // n_users or null (squared error only)
  int64_t n_users = 0;
  int64_t n_items = 0;
  int64_t n_factors = 0;
};

struct DistillOptions {
  GroundTruth ground_truth = GroundTruth::bpr;
  DistillLoss loss = DistillLoss::ranking;
  float alpha = 0.5f;
  float temperature = 2.0f;
  float learning_rate = 0.05f;
  float regularization = 0.01f;
  float global_mean = 0.0f;  // mu, squared error only
  int n_samples = 16;
  int n_negatives = 16;
  uint64_t seed = 0;
  int64_t epoch = 0;
};

// One epoch over all users of `train` (rows = users, sorted column indices). Users whose teacher
// row is empty (items[0] == -1) get only the ground-truth loss; users with an empty train row get
// only the distillation loss. Inputs must have passed the binding's checks. n_threads = 0 picks
// the thread count from the work per round (small problems run on one thread).
void distill_epoch(const CsrView& train, const TeacherView& teacher, const StudentView& student,
                   const DistillOptions& options, int n_threads);

// dL/ds for the candidate scores s (n_a teacher items first, then n_n sampled items).
// t: teacher scores of the n_a items; w: their ranking weights. Returns the loss when want_loss
// (the epoch needs only the gradient and skips the logarithms), else 0.
double distill_score_grad(DistillLoss loss, const float* s, const float* t, const float* w, int n_a, int n_n,
                          float rest, float temperature, float* grad, bool want_loss = true);

// w_k = K * softmax(t / T)_k over one user's top-K list (the ranking weights, mean 1).
void rank_weights(const float* t, int64_t k, float temperature, float* w);

// Loss and gradient of the distillation loss of one user for a fixed candidate set (for tests):
// positions index the user's top-K row, negatives are item indices. grad_q/grad_b have one row per
// candidate (positions first).
double distill_user_gradient(DistillLoss loss, const float* p_u, const float* item_factors, const float* item_bias,
                             int64_t n_factors, const int32_t* top_items, const float* top_scores, int64_t k,
                             float rest, const int32_t* positions, int n_a, const int32_t* negatives, int n_n,
                             float temperature, float* grad_p, float* grad_q, float* grad_b);

}  // namespace crossrec
