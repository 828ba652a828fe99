// Bit counting that compiles everywhere: GCC and Clang have a builtin (one POPCNT instruction in
// the AVX2 clones), MSVC has none; std::bitset::count is the portable spelling there.
#pragma once
#include <cstdint>

#if defined(_MSC_VER) && !defined(__clang__)
#include <bitset>
#endif

namespace crossrec {

inline int popcount64(uint64_t x) {
#if defined(_MSC_VER) && !defined(__clang__)
  return static_cast<int>(std::bitset<64>(x).count());
#else
  return __builtin_popcountll(x);
#endif
}

}  // namespace crossrec
