// Co-clustering for ratings (George & Merugu, ICDM 2005), as Surprise's CoClustering:
//   r_ui ~ A_co(c_u, c_i) + (mu_u - A_u(c_u)) + (mu_i - A_i(c_i)),
// with A_u, A_i, A_co the mean ratings of user clusters, item clusters and co-clusters (the
// global mean for an empty one). One epoch: averages from the current clusters; every user moves
// to the cluster that minimises the squared error of its ratings (item clusters fixed); then every
// item, against the users' new clusters and the same averages. Ties go to the lowest cluster.
// Users are independent given the averages (and so are items), so both passes run in parallel
// and the averages are summed in fixed blocks: the same result on any thread count.
#pragma once
#include <cstdint>

#include "crossrec/csr.hpp"
#include "crossrec/work_size.hpp"

namespace crossrec {

struct CoclusterAverages {
  double* user_avg;   // n_cltr_u
  double* item_avg;   // n_cltr_i
  double* cocluster;  // n_cltr_u x n_cltr_i
};

void coclustering_averages(const CsrView& ratings, const int32_t* cltr_u, const int32_t* cltr_i, int n_cltr_u,
                           int n_cltr_i, double global_mean, const CoclusterAverages& out, int n_threads,
                           double min_work = kMinParallelWork);

// One reassignment pass (users, then items). by_item: items x users, same values.
// Returns the number of users and items whose cluster changed.
int64_t coclustering_assign(const CsrView& ratings, const CsrView& by_item, const double* user_mean,
                            const double* item_mean, int32_t* cltr_u, int32_t* cltr_i, int n_cltr_u, int n_cltr_i,
                            const double* user_avg, const double* item_avg, const double* cocluster, int n_threads,
                            double min_work = kMinParallelWork);

}  // namespace crossrec
