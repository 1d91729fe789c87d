// What the SIMD passes (resample, yuv_to_rgb) share: the AVX2 build switch, the
// runtime check, and madd's layout of a pair of 16-bit weights.
#pragma once

#include <cstdint>

// SPDL_SIMD_SCALAR builds the scalar code only (to test it on x86).
#if (defined(__x86_64__) || defined(__i386__)) && !defined(SPDL_SIMD_SCALAR)
#include <immintrin.h>
#define SPDL_AVX2 1
#endif

namespace spdl {

#ifdef SPDL_AVX2
inline bool has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

// Weights a, b as the low and high word of one 32-bit lane: _mm256_madd_epi16
// then multiplies a sample pair (x, y) into a * x + b * y.
inline uint32_t word_pair(int16_t a, int16_t b) {
  return static_cast<uint16_t>(a) | static_cast<uint32_t>(static_cast<uint16_t>(b)) << 16;
}

}  // namespace spdl
