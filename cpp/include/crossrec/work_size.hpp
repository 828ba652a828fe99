// How many threads a piece of work is worth. Waking a thread team costs little on an idle
// machine, but on a busy one every parallel region waits for each of its threads to be scheduled
// (a time slice or more), so below about 10 ms of one core's work a second thread loses more than
// it saves. Kernels estimate their work in units of about one multiply-add and run on one thread
// below `min_work`; the threshold is an argument so tests can force the parallel path.
#pragma once

namespace crossrec {

constexpr double kMinParallelWork = 3e7;

inline int threads_for_work(int n_threads, double work, double min_work = kMinParallelWork) {
  return work < min_work ? 1 : n_threads;
}

}  // namespace crossrec
