// Parallel loops over rows with exception capture and per-thread scratch.
#pragma once
#include <algorithm>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#if defined(CROSSREC_HAVE_OPENMP)
#include <omp.h>
#endif
#if defined(__linux__)
#include <sched.h>
#endif

namespace crossrec {

// The cores this process may run on: its CPU affinity mask on Linux (what Python's
// os.sched_getaffinity counts, so n_threads=0 means the same in Python and C++), else the
// hardware concurrency.
inline int usable_cores() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  const unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

// Hardware threads of the machine (at least 1).
inline int hardware_threads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

// The most threads any kernel starts: kThreadsPerCore x the hardware threads. More only adds
// thread stacks and per-thread scratch (100,000 threads crashed; 1,000 aborted under an 8 GB
// address-space limit) and never speed. Larger requests are clamped to it, here, for every kernel.
constexpr int kThreadsPerCore = 4;
inline int thread_cap() { return kThreadsPerCore * hardware_threads(); }

// 0 (or less) means every core the process may use (usable_cores); the result is in [1, thread_cap()].
inline int resolve_threads(int64_t n_threads) {
  int64_t n = n_threads;
  if (n <= 0) n = usable_cores();
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(n, thread_cap())));
}

// An exception must not leave an OpenMP region (std::terminate): keep the first, rethrow after.
class ExceptionCapture {
 public:
  void capture() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = std::current_exception();
  }
  bool failed() const { return static_cast<bool>(error_); }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr error_;
};

// Runs body(i, scratch) for i in [0, n); scratch = make_scratch() once per thread.
// `chunk` rows are handed out at a time (dynamic schedule, for skewed sparse rows).
template <class MakeScratch, class Body>
void parallel_for(int64_t n, [[maybe_unused]] int n_threads, int64_t chunk, MakeScratch&& make_scratch, Body&& body) {
  ExceptionCapture errors;
  if (chunk < 1) chunk = 1;
#if defined(CROSSREC_HAVE_OPENMP)
  // No thread (and no scratch) for which there is no chunk of work.
  const int64_t n_chunks = (n + chunk - 1) / chunk;
  const int threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(resolve_threads(n_threads), n_chunks)));
#pragma omp parallel num_threads(threads)
#endif
  {
    try {
      auto scratch = make_scratch();
#if defined(CROSSREC_HAVE_OPENMP)
#pragma omp for schedule(dynamic, chunk)
#endif
      for (int64_t i = 0; i < n; ++i) {
        if (errors.failed()) continue;
        try {
          body(i, scratch);
        } catch (...) {
          errors.capture();
        }
      }
    } catch (...) {
      errors.capture();
    }
  }
  errors.rethrow();
}

struct NoScratch {};

template <class Body>
void parallel_for(int64_t n, int n_threads, int64_t chunk, Body&& body) {
  parallel_for(n, n_threads, chunk, [] { return NoScratch{}; }, [&](int64_t i, NoScratch&) { body(i); });
}

}  // namespace crossrec
