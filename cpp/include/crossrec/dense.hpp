// Small dense helpers shared by the kernels; written so -O3 vectorises them.
#pragma once
#include <cstdint>

// Hot loops may be compiled twice, for AVX2+FMA and for the baseline, and the right one picked at
// load time. Never -march=native in what we distribute: it crashes on older CPUs.
#if defined(CROSSREC_MULTIVERSION)
#define CROSSREC_TARGET_CLONES __attribute__((target_clones("arch=x86-64-v3", "default"), noinline))
#else
#define CROSSREC_TARGET_CLONES
#endif

namespace crossrec {

// `omp simd reduction` lets the compiler reorder the sum (vectorise) without -ffast-math.
inline float dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t k = 0; k < n; ++k) s += a[k] * b[k];
  return s;
}

inline double dot_double(const float* a, const float* b, int64_t n) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t k = 0; k < n; ++k) s += static_cast<double>(a[k]) * b[k];
  return s;
}

inline void axpy(float alpha, const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t k = 0; k < n; ++k) y[k] += alpha * x[k];
}

}  // namespace crossrec
