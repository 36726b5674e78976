// Throughput of three ways to accumulate xor-popcounts with AVX-512, registers only (the
// operands are loop-invariant; only the op mix is measured): TSC ticks per 512 binary MACs
// (one 16-lane vector of 32-bit words), the minimum over 30 runs of 100,000 iterations.
//   plain        vpxord + vpopcntd + vpaddd per word (the kernels' and the ceiling's mix),
//                the activation word broadcast from memory inside the vpxord ({1to16})
//   full adder   three words at once: ones = (a0^a1^a2)^(w0^w1^w2) (one vpxord: the
//                activation part is one scalar per pixel, the weight part can be prepared),
//                x0, x1 (two vpxord), maj = vpternlogd 0xd4 (x0, x1, ones), then either
//                vpopcntd + vpaddd into two accumulators (weights 1 and 2) or vpopcntb +
//                vpdpbusd against bytes (1,1,1,1) and (2,2,2,2) into one: 8 ops per 3 words
//                and 16 channels instead of 9.
// docs/performance.md, "Binary convolutions: the full adder over three words". Build and run
// (a CPU with AVX-512 VPOPCNTDQ + BITALG + VNNI):
//   g++ -O2 -mavx512f -mavx512bw -mavx512vpopcntdq -mavx512bitalg -mavx512vnni \
//       benchmarks/avx512_popcount_schemes.cc -o /tmp/popcount_schemes && /tmp/popcount_schemes
#include <cstdint>
#include <cstdio>
#include <x86intrin.h>

namespace {

constexpr int kIters = 100000;
alignas(64) uint32_t g_words[16] = {1, 2, 3};
alignas(4) const uint32_t kBytes1 = 0x01010101u, kBytes2 = 0x02020202u;

// 8 independent (vpxord m32bcst, vpopcntd, vpaddd): 8 x 512 MACs per iteration.
uint64_t plain() {
  const uint64_t t0 = __rdtsc();
  asm volatile(
      "mov %0, %%ecx\n"
      "1:\n"
      ".irp r,16,17,18,19,20,21,22,23\n"
      "vpxord (%1)%{1to16%}, %%zmm1, %%zmm8\n"
      "vpopcntd %%zmm8, %%zmm8\n"
      "vpaddd %%zmm8, %%zmm\\r, %%zmm\\r\n"
      ".endr\n"
      "dec %%ecx\n"
      "jnz 1b\n" ::"i"(kIters),
      "r"(g_words)
      : "ecx", "memory");
  return __rdtsc() - t0;
}

// 4 full adders, two accumulators each: 12 x 512 MACs per iteration.
uint64_t full_adder_two_acc() {
  const uint64_t t0 = __rdtsc();
  asm volatile(
      "mov %0, %%ecx\n"
      "1:\n"
      ".irp r,0,1,2,3\n"
      "vpxord (%1)%{1to16%}, %%zmm1, %%zmm8\n"   // ones
      "vpxord 4(%1)%{1to16%}, %%zmm3, %%zmm9\n"  // x0
      "vpxord 8(%1)%{1to16%}, %%zmm4, %%zmm7\n"  // x1
      "vpternlogd $0xd4, %%zmm8, %%zmm7, %%zmm9\n"
      "vpopcntd %%zmm8, %%zmm8\n"
      "vpopcntd %%zmm9, %%zmm9\n"
      "vpaddd %%zmm8, %%zmm1\\r, %%zmm1\\r\n"
      "vpaddd %%zmm9, %%zmm2\\r, %%zmm2\\r\n"
      ".endr\n"
      "dec %%ecx\n"
      "jnz 1b\n" ::"i"(kIters),
      "r"(g_words)
      : "ecx", "memory");
  return __rdtsc() - t0;
}

// 4 full adders, one accumulator each (vpopcntb + vpdpbusd): 12 x 512 MACs per iteration.
uint64_t full_adder_vpdpbusd() {
  const uint64_t t0 = __rdtsc();
  asm volatile(
      "mov %0, %%ecx\n"
      "1:\n"
      ".irp r,0,1,2,3\n"
      "vpxord (%1)%{1to16%}, %%zmm1, %%zmm8\n"
      "vpxord 4(%1)%{1to16%}, %%zmm3, %%zmm9\n"
      "vpxord 8(%1)%{1to16%}, %%zmm4, %%zmm7\n"
      "vpternlogd $0xd4, %%zmm8, %%zmm7, %%zmm9\n"
      "vpopcntb %%zmm8, %%zmm8\n"
      "vpopcntb %%zmm9, %%zmm9\n"
      "vpdpbusd (%2)%{1to16%}, %%zmm8, %%zmm1\\r\n"
      "vpdpbusd (%3)%{1to16%}, %%zmm9, %%zmm1\\r\n"
      ".endr\n"
      "dec %%ecx\n"
      "jnz 1b\n" ::"i"(kIters),
      "r"(g_words), "r"(&kBytes1), "r"(&kBytes2)
      : "ecx", "memory");
  return __rdtsc() - t0;
}

}  // namespace

int main() {
  for (int round = 0; round < 3; ++round) {
    uint64_t a = ~0ull, b = ~0ull, c = ~0ull;
    for (int k = 0; k < 30; ++k) {
      uint64_t x = plain();
      if (x < a) a = x;
      x = full_adder_two_acc();
      if (x < b) b = x;
      x = full_adder_vpdpbusd();
      if (x < c) c = x;
    }
    std::printf("TSC ticks per 512 MACs: plain %.3f  full adder, 2 acc %.3f  "
                "full adder, vpdpbusd %.3f\n",
                a / (kIters * 8.0), b / (kIters * 12.0), c / (kIters * 12.0));
  }
}
