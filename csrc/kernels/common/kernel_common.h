// Shared plumbing of the integer and float glue kernels (docs/numerics.md §3, §5).
//
// Every op family has a header declaring an argument struct and one kernel per ISA, all with
// the same signature `void op(const OpArgs&, ThreadPool* pool)`; a kernel splits its own work
// over `pool` (nullptr = run on the calling thread). The kernels live in namespaces
// scalar / avx2 / avx512 / neon; `avx512_simde` holds the AVX-512 sources compiled a second
// time against SIMDe (C++ tests only, so they run on machines without AVX-512), `neon_simde`
// the NEON sources against SIMDe's NEON (so NEON is also checked natively on x86).
//
// Per-ISA objects and the one-definition rule (docs/development.md, "Per-ISA objects"): a file
// named *_avx2_* / *_avx512_* / *_neon_* is compiled with its ISA's flags, and every inline
// function or template instantiation it emits with external linkage is a weak (COMDAT) symbol
// that the linker may pick for *every* caller, including code that runs on a CPU without that
// ISA. So in those files every externally visible symbol lies in the ISA's namespace
// (bnnflow::glue::avx2, bnnflow::avx512, ...) and everything else is TU-local: helpers in
// anonymous namespaces (as GlueBuffer below and the *_impl.h templates) or `static`, templates
// instantiated only with TU-local types (kernel lambdas). No std containers, std::function,
// std::min or other shared inline library code: scratch memory is GlueBuffer, parallel loops go
// through parallel_ranges → run_ranges (threadpool.cc, ISA-neutral). The ctest `isa_symbols`
// (cmake/check_isa_symbols.cmake) lists every ISA object's symbols and fails on any violation.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "common/cpu_features.h"
#include "common/isa_dispatch.h"
#include "common/threadpool.h"

// The glue kernels' scope for the one picker (common/isa_dispatch.h):
// BNNFLOW_GLUE_PICK(isa, requant) is &bnnflow::glue::<isa>::requant, or throws.
#define BNNFLOW_GLUE_PICK(isa, name) BNNFLOW_ISA_PICK(isa, ::bnnflow::glue, name)

namespace bnnflow::glue {

// Runs body(begin, end) on disjoint pieces covering [0, n), through the ISA-neutral run_ranges
// (threadpool.h): each pool thread's contiguous range arrives in one or two pieces, more when
// a thread is late and the others take its rest, so a body may run several times per thread
// and call (per-call set-up, such as a scratch row, is paid per piece). Body is a kernel's
// lambda (no linkage), so this instantiation and its callback are TU-local, and no
// std::function code is emitted here.
template <class Body>
void parallel_ranges(ThreadPool* pool, std::size_t n, const Body& body) {
  run_ranges(pool, n,
             [](const void* ctx, std::size_t b, std::size_t e) {
               (*static_cast<const Body*>(ctx))(b, e);
             },
             &body);
}

// r = 2^(s-1) for s > 0 else 0: the rounding term of rshift_round.
static inline std::int32_t round_term32(std::int32_t s) {
  return s > 0 ? (std::int32_t{1} << (s - 1)) : 0;
}
static inline std::int64_t round_term64(std::int32_t s) {
  return s > 0 ? (std::int64_t{1} << (s - 1)) : 0;
}

// Two's-complement wrapping adds: the kernels' int32/int64 arithmetic wraps exactly as the
// SIMD lanes do (the bindings reject parameters that could overflow).
static inline std::int32_t wadd32(std::int32_t a, std::int32_t b) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}
static inline std::int64_t wadd64(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}
static inline std::int8_t sat8(std::int64_t v) {
  return static_cast<std::int8_t>(v < -128 ? -128 : (v > 127 ? 127 : v));
}

// Output size of a window op: (in + pad_begin + pad_end - k) / stride + 1. Window ops take the
// padding per side (pad_top, pad_left, pad_bottom, pad_right; TF "same" padding puts an odd
// extra row / column at the bottom / right): output (oh, ow) reads tap (kh, kw) at input
// (oh*stride - pad_top + kh, ow*stride - pad_left + kw); a tap outside [0,H)x[0,W) is padded.
static inline std::size_t out_size(std::size_t in, int k, int stride, int pad_begin, int pad_end) {
  return (in + static_cast<std::size_t>(pad_begin) + static_cast<std::size_t>(pad_end) -
          static_cast<std::size_t>(k)) /
             static_cast<std::size_t>(stride) + 1;
}

namespace {
// A thread's scratch memory kept across kernel calls (no allocation per call) is freed when
// a call leaves it larger than this, so one large call (a big batch through a direct kernel
// call) does not pin its memory for the thread's lifetime; a 224x224 model's staging is far
// below it.
constexpr std::size_t kScratchKeepBytes = std::size_t{4} << 20;

// Zero-initialised scratch memory, 64-byte aligned, freed on scope exit.
template <class T>
class GlueBuffer {
 public:
  GlueBuffer() = default;  // empty (data() == nullptr) until allocate()
  explicit GlueBuffer(std::size_t n) { allocate(n); }
  ~GlueBuffer() { release(); }
  GlueBuffer(const GlueBuffer&) = delete;
  GlueBuffer& operator=(const GlueBuffer&) = delete;
  // n zeroed elements (any previous contents are freed).
  void allocate(std::size_t n) {
    release();
    const std::size_t bytes = ((n * sizeof(T) + 63) / 64 + 1) * 64;
    // The library's aligned operator new throws std::bad_alloc itself: no exception object is
    // constructed (and no inline std::bad_alloc code emitted) in an ISA-compiled file.
    p_ = static_cast<T*>(::operator new(bytes, std::align_val_t{64}));
    n_ = n;
    std::memset(static_cast<void*>(p_), 0, bytes);
  }
  T* data() { return p_; }
  const T* data() const { return p_; }
  T& operator[](std::size_t i) { return p_[i]; }
  std::size_t size() const { return n_; }
  // Frees the memory if it holds more than keep_bytes (see kScratchKeepBytes).
  void trim(std::size_t keep_bytes) {
    if (n_ * sizeof(T) > keep_bytes) release();
  }

 private:
  void release() {
    if (p_ != nullptr) ::operator delete(static_cast<void*>(p_), std::align_val_t{64});
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  std::size_t n_ = 0;
};
// The calling thread's scratch buffers of one kernel file (`kSlots` of them; TU-local, as
// everything here: each ISA object has its own), kept across calls so that a model's per-call
// staging costs no allocation. scratch(slot, bytes) is at least `bytes` long, contents
// unspecified; on scope exit the guard frees every buffer above kScratchKeepBytes.
template <int kSlots>
class ThreadScratch {
 public:
  ThreadScratch() = default;
  ThreadScratch(const ThreadScratch&) = delete;
  ThreadScratch& operator=(const ThreadScratch&) = delete;
  ~ThreadScratch() {
    for (int s = 0; s < kSlots; ++s) buffers()[s].trim(kScratchKeepBytes);
  }
  std::uint8_t* scratch(int slot, std::size_t bytes) {
    GlueBuffer<std::uint8_t>& b = buffers()[slot];
    if (b.size() < bytes) b.allocate(bytes);
    return b.data();
  }

 private:
  static GlueBuffer<std::uint8_t>* buffers() {
    thread_local GlueBuffer<std::uint8_t> b[kSlots];
    return b;
  }
};
}  // namespace

}  // namespace bnnflow::glue
