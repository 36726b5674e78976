// AVX2-class ceiling micro-kernels, three ways to xor + popcount + accumulate:
//  - nibble-lut:  vpxor, 2x vpshufb nibble table, 8-bit counters widened every 31 vectors
//                 (the method of the AVX2 bconv micro-kernel);
//  - harley-seal: carry-save adder tree over 16 xor'ed vectors, then one nibble-table popcount
//                 (needs 5 state registers per accumulator, so it fits no register tile);
//  - popcnt64:    scalar 64-bit xor + popcnt + add on the integer ports.
#include <immintrin.h>

#include "measure/ceiling.h"

namespace bnnflow::avx2 {
namespace {

inline __m256i popcount_bytes(__m256i v, __m256i lut, __m256i nib) {
  const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, nib));
  const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib));
  return _mm256_add_epi8(lo, hi);
}

inline __m256i widen(__m256i acc8) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(acc8, _mm256_set1_epi8(1)),
                           _mm256_set1_epi16(1));
}

inline uint64_t hsum(__m256i v) {
  alignas(32) uint32_t t[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), v);
  uint64_t s = 0;
  for (uint32_t x : t) s += x;
  return s;
}

// A function, not a namespace-scope constant: no AVX2 instruction may run at load time.
inline __m256i nibble_table() {
  return _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3,
                          1, 2, 2, 3, 2, 3, 3, 4);
}

uint64_t nibble_lut(const uint32_t* w, size_t words, int passes) {
  const __m256i lut = nibble_table(), nib = _mm256_set1_epi8(0x0f);
  const __m256i b0 = _mm256_set1_epi32(0x12345678), b1 = _mm256_set1_epi32(0x1abcdef0);
  const __m256i b2 = _mm256_set1_epi32(0x0f0f0f0f), b3 = _mm256_set1_epi32(0x5eadbeef);
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  const size_t vecs = words / 8;
  for (int p = 0; p < passes; ++p) {
    for (size_t k0 = 0; k0 < vecs; k0 += 31) {
      const size_t k1 = k0 + 31 < vecs ? k0 + 31 : vecs;
      __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
      for (size_t k = k0; k < k1; ++k) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 8 * k));
        a0 = _mm256_add_epi8(a0, popcount_bytes(_mm256_xor_si256(v, b0), lut, nib));
        a1 = _mm256_add_epi8(a1, popcount_bytes(_mm256_xor_si256(v, b1), lut, nib));
        a2 = _mm256_add_epi8(a2, popcount_bytes(_mm256_xor_si256(v, b2), lut, nib));
        a3 = _mm256_add_epi8(a3, popcount_bytes(_mm256_xor_si256(v, b3), lut, nib));
      }
      s0 = _mm256_add_epi32(s0, widen(a0));
      s1 = _mm256_add_epi32(s1, widen(a1));
      s2 = _mm256_add_epi32(s2, widen(a2));
      s3 = _mm256_add_epi32(s3, widen(a3));
    }
  }
  return hsum(s0) + hsum(s1) + hsum(s2) + hsum(s3);
}

// Nibble-split operands: both sides stored as (v & 0x0f0f0f0f, (v >> 4) & 0x0f0f0f0f), so the
// table lookups need no masking: 2 vpxor + 2 vpshufb + 2 vpaddb per 256 bits (6 ops, not 8).
// The buffer holds lo/hi vector pairs; macs_per_word counts the original words (half).
uint64_t split_nibble_lut(const uint32_t* w, size_t words, int passes) {
  const __m256i lut = nibble_table();
  const __m256i l0 = _mm256_set1_epi32(0x02040608), h0 = _mm256_set1_epi32(0x01030507);
  const __m256i l1 = _mm256_set1_epi32(0x0a0c0e00), h1 = _mm256_set1_epi32(0x090b0d0f);
  const __m256i l2 = _mm256_set1_epi32(0x0f0f0f0f), h2 = _mm256_set1_epi32(0x00000000);
  const __m256i l3 = _mm256_set1_epi32(0x05050a0a), h3 = _mm256_set1_epi32(0x0a0a0505);
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  const size_t pairs = words / 16;
  for (int p = 0; p < passes; ++p) {
    for (size_t k0 = 0; k0 < pairs; k0 += 31) {
      const size_t k1 = k0 + 31 < pairs ? k0 + 31 : pairs;
      __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
      for (size_t k = k0; k < k1; ++k) {
        const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16 * k));
        const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16 * k + 8));
        a0 = _mm256_add_epi8(a0, _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_xor_si256(lo, l0)),
                                                 _mm256_shuffle_epi8(lut, _mm256_xor_si256(hi, h0))));
        a1 = _mm256_add_epi8(a1, _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_xor_si256(lo, l1)),
                                                 _mm256_shuffle_epi8(lut, _mm256_xor_si256(hi, h1))));
        a2 = _mm256_add_epi8(a2, _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_xor_si256(lo, l2)),
                                                 _mm256_shuffle_epi8(lut, _mm256_xor_si256(hi, h2))));
        a3 = _mm256_add_epi8(a3, _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_xor_si256(lo, l3)),
                                                 _mm256_shuffle_epi8(lut, _mm256_xor_si256(hi, h3))));
      }
      s0 = _mm256_add_epi32(s0, widen(a0));
      s1 = _mm256_add_epi32(s1, widen(a1));
      s2 = _mm256_add_epi32(s2, widen(a2));
      s3 = _mm256_add_epi32(s3, widen(a3));
    }
  }
  return hsum(s0) + hsum(s1) + hsum(s2) + hsum(s3);
}

inline void csa(__m256i& h, __m256i& l, __m256i a, __m256i b, __m256i c) {
  const __m256i u = _mm256_xor_si256(a, b);
  h = _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(u, c));
  l = _mm256_xor_si256(u, c);
}

// Harley-Seal over the stream w ^ b (one operand per pass: macs_per_word = 32).
uint64_t harley_seal(const uint32_t* w, size_t words, int passes) {
  const __m256i lut = nibble_table(), nib = _mm256_set1_epi8(0x0f);
  const __m256i b = _mm256_set1_epi32(0x12345678);
  __m256i total = _mm256_setzero_si256();
  const size_t vecs = words / 8;
  auto ld = [&](size_t k) {
    return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 8 * k)), b);
  };
  for (int p = 0; p < passes; ++p) {
    __m256i ones = _mm256_setzero_si256(), twos = ones, fours = ones, eights = ones;
    __m256i acc8 = _mm256_setzero_si256();
    int pending = 0;
    for (size_t k = 0; k + 16 <= vecs; k += 16) {
      __m256i twos_a, twos_b, fours_a, fours_b, eights_a, eights_b, sixteens;
      csa(twos_a, ones, ones, ld(k + 0), ld(k + 1));
      csa(twos_b, ones, ones, ld(k + 2), ld(k + 3));
      csa(fours_a, twos, twos, twos_a, twos_b);
      csa(twos_a, ones, ones, ld(k + 4), ld(k + 5));
      csa(twos_b, ones, ones, ld(k + 6), ld(k + 7));
      csa(fours_b, twos, twos, twos_a, twos_b);
      csa(eights_a, fours, fours, fours_a, fours_b);
      csa(twos_a, ones, ones, ld(k + 8), ld(k + 9));
      csa(twos_b, ones, ones, ld(k + 10), ld(k + 11));
      csa(fours_a, twos, twos, twos_a, twos_b);
      csa(twos_a, ones, ones, ld(k + 12), ld(k + 13));
      csa(twos_b, ones, ones, ld(k + 14), ld(k + 15));
      csa(fours_b, twos, twos, twos_a, twos_b);
      csa(eights_b, fours, fours, fours_a, fours_b);
      csa(sixteens, eights, eights, eights_a, eights_b);
      acc8 = _mm256_add_epi8(acc8, popcount_bytes(sixteens, lut, nib));
      if (++pending == 31) {  // <= 31 · 8 per byte counter: exact
        total = _mm256_add_epi32(total, _mm256_slli_epi32(widen(acc8), 4));
        acc8 = _mm256_setzero_si256();
        pending = 0;
      }
    }
    total = _mm256_add_epi32(total, _mm256_slli_epi32(widen(acc8), 4));
    total = _mm256_add_epi32(total, _mm256_slli_epi32(widen(popcount_bytes(eights, lut, nib)), 3));
    total = _mm256_add_epi32(total, _mm256_slli_epi32(widen(popcount_bytes(fours, lut, nib)), 2));
    total = _mm256_add_epi32(total, _mm256_slli_epi32(widen(popcount_bytes(twos, lut, nib)), 1));
    total = _mm256_add_epi32(total, widen(popcount_bytes(ones, lut, nib)));
  }
  return hsum(total);
}

uint64_t popcnt64(const uint32_t* w32, size_t words, int passes) {
  const uint64_t* w = reinterpret_cast<const uint64_t*>(w32);
  const uint64_t x0 = 0x123456789abcdef0ull, x1 = 0x0f0f0f0ff0f0f0f0ull;
  const uint64_t x2 = 0xdeadbeef01234567ull, x3 = 0x55aa55aa33cc33ccull;
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (int p = 0; p < passes; ++p) {
    for (size_t j = 0; j < words / 2; ++j) {
      const uint64_t v = w[j];
      a0 += _mm_popcnt_u64(v ^ x0);
      a1 += _mm_popcnt_u64(v ^ x1);
      a2 += _mm_popcnt_u64(v ^ x2);
      a3 += _mm_popcnt_u64(v ^ x3);
    }
  }
  return a0 + a1 + a2 + a3;
}

const CeilingKernel kCeilingKernels[] = {
    {"avx2-nibble-lut", Isa::kAvx2, 128, &nibble_lut, false},
    {"avx2-harley-seal", Isa::kAvx2, 32, &harley_seal, false},
    {"avx2-split-nibble-lut", Isa::kAvx2, 64, &split_nibble_lut, true},
    {"x86-popcnt64", Isa::kAvx2, 128, &popcnt64, false}};

}  // namespace
CeilingKernelList ceiling_kernels() {
  return {kCeilingKernels, sizeof(kCeilingKernels) / sizeof(kCeilingKernels[0])};
}

}  // namespace bnnflow::avx2
