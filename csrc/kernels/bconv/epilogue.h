// The fused epilogues of bconv2d / bdense (docs/numerics.md §4): clamp, then int32, float32,
// int8 (clip + requant) or packed bits. Shared by every ISA's driver.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/bconv/bconv.h"

namespace bnnflow {

inline constexpr int kMaxPixels = 16;   // largest micro-kernel pixel tile
inline constexpr int kMaxBlock = 128;   // largest micro-kernel channel block

// saturate(rshift_round(M·clamp(d, −128, 127) + B, s)), 64-bit intermediate.
inline int8_t requant_int8(int32_t d, int16_t m, int32_t b, int32_t s) {
  const int64_t q = std::min(std::max(d, -128), 127);
  const int64_t v = static_cast<int64_t>(m) * q + b;
  const int64_t r = s > 0 ? (int64_t{1} << (s - 1)) : 0;
  const int64_t y = (v + r) >> s;
  return static_cast<int8_t>(std::min<int64_t>(std::max<int64_t>(y, -128), 127));
}

// float epilogue: float32(d)·scale rounded, then + bias rounded — never a fused multiply-add,
// so every ISA gives the reference's bits.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

// Rows of EpilogueWriter::tail_table: the int8 requant (M zero-extended, B + 2^(s−1), s), the
// add ((My, Mr) int16 pairs, B + 2^(s−1), s), the pwl (t, Mp and Mn zero-extended, Bp and Bn
// + 2^(ps−1), ps), the pack's threshold, and the same threshold for byte compares (AVX2:
// bytes 0-15 of the row hold min(max(t − 1, −128), 127) as int8, int32 4 the keep mask, the
// chunk's channels with t > −128; bit = not (v > t − 1) and keep). Then the rows of the
// AVX-512 tail of whole 64-channel blocks in 16-bit lanes (tail64, epilogue_avx512.h): chunk
// 4b + v holds, for lane i, the parameters of channel 64b + q64_channel(v, i) — the requant's
// multiplier as a (M, 0) int16 pair for even v and (0, M) for odd v, B + 2^(s−1), s, the add's
// (My, Mr) pairs, B + 2^(s−1), s, the pwl's t, Mp and Mn zero-extended, Bp and Bn + 2^(ps−1),
// ps — and chunk 4b the block's 64 byte thresholds (kTpQPackT8, channel order) and its 64-bit
// keep mask (kTpQKeep, int32 0-1).
enum TailParam : int {
  kTpMult, kTpOffset, kTpShift, kTpPairs, kTpBr, kTpS, kTpT, kTpMp, kTpMn, kTpBp, kTpBn, kTpPs,
  kTpPackT, kTpPackT8, kTpQMult, kTpQOffset, kTpQShift, kTpQPairs, kTpQBr, kTpQS, kTpQT, kTpQMp,
  kTpQMn, kTpQBp, kTpQBn, kTpQPs, kTpQPackT8, kTpQKeep, kTailParams
};

// tail64's lane order: the channel (of its 64-channel block) in int32 lane i (0-15) of its
// vector v (0-3). The block's four int32 accumulators (channels 16v + i) packed to 16-bit
// lanes by two vpackssdw give, per 128-bit lane L, channels 4L..4L+3 then 16+4L..19+4L (and
// 32 more for the second pair); a vpmaddwd of those int16 pairs with (M, 0) keeps the even
// ones (v even), with (0, M) the odd ones (v odd).
constexpr int q64_channel(int v, int i) {
  const int lane = i / 4, m = i % 4;
  return (v >> 1) * 32 + (v & 1) + 4 * lane + (m & 1) * 2 + (m >> 1) * 16;
}

// Where and how a bconv2d / bdense call writes its outputs.
struct EpilogueWriter {
  Epilogue ep;
  int cout;
  void* out;
  size_t row_elems;   // output elements per pixel
  bool clamp;         // lo/hi differ from the full int32 range
  bool int8_fits_32;  // 128·|M| + |B| + 2^(s−1) < 2^31 for every channel: int32 requant exact
  int og_ch = 1, og_words = 1;  // packed: channels and words per output group
  // int8, for the SIMD epilogues: M zero-extended to 32 bits (a 16-bit multiply-add of
  // (q, 0) pairs gives M·q exactly), B plus the rounding term 2^(s−1) (0 for s = 0), exact
  // when int8_fits_32, and s: three rows of `cout` in one array, so that a loop reaches the
  // three parameters of channel o from one pointer (int8_params + o, then + int8_stride and
  // + 2·int8_stride: x86 base + index·4 / index·8 addressing). 64-byte aligned rows (the
  // stride a multiple of 16), so that no vector load of a parameter splits a cache line.
  AlignedVector<int32_t> int8_params_v;
  // Its data, for the ISA epilogues: an ISA-compiled file must not call std::vector's inline
  // members (docs/development.md, "Per-ISA objects"). Hence no copies (they would dangle).
  const int32_t* int8_params = nullptr;
  size_t int8_stride = 0;
  const int32_t* mult_u16_data = nullptr;     // int8_params
  const int32_t* offset_round_data = nullptr; // int8_params + int8_stride
  // The same three rows in the lane order of the AVX-512 64-channel blocks in 16-bit lanes
  // (q64_channel: entry 64b + 16v + i is channel 64b + q64_channel(v, i); the multiplier as
  // (M, 0) for even v, (0, M) for odd v), when cout is a multiple of 64 (else null), at
  // int8_params + 3·int8_stride; int8_q64_fits: bconv2d found kh·kw·Cg <= 32767.
  const int32_t* int8_q64 = nullptr;
  bool int8_q64_fits = false;
  // The residual tail the micro-kernels finish in registers (null: none, or ep.post does it;
  // set by enable_tail). og_ch / og_words then describe the pack's groups, tail_words is the
  // pack's words per pixel.
  const ResidualTail* tail = nullptr;
  size_t tail_words = 0;
  // The tail of whole 64-channel blocks in 16-bit lanes (AVX-512 tail64) applies:
  // K = taps·Cg <= 32767 (the popcount sums fit int16), and with a pack each block's bits are
  // two whole words of its pixel (pack groups of a multiple of 64 channels). Set by bconv2d.
  bool tail_q64 = false;
  // The x86 tails' parameters interleaved per 16 channels (make_tail_table: TailParam rows of
  // 16 int32 per chunk): one pointer per channel vector reaches every parameter at a fixed
  // displacement, so the loop needs no pointer reloads after its int8 stores (which may alias
  // anything). ResidualTail::table when the caller made it once, else tail_table_v.
  AlignedVector<int32_t> tail_table_v;
  const int32_t* tail_table = nullptr;

  EpilogueWriter(const EpilogueWriter&) = delete;
  EpilogueWriter& operator=(const EpilogueWriter&) = delete;
  EpilogueWriter(const Epilogue& e, int cout_, void* out_)
      : ep(e),
        cout(cout_),
        out(out_),
        row_elems(epilogue_row_elems(e, cout_)),
        clamp(e.lo != INT32_MIN || e.hi != INT32_MAX),
        int8_fits_32(true) {
    if (e.kind == EpilogueKind::kPacked) {
      og_ch = cout / e.out_groups;
      og_words = (og_ch + 31) / 32;
    }
    if (e.kind == EpilogueKind::kInt8) {
      int8_stride = (static_cast<size_t>(cout) + 15) / 16 * 16;  // each row 64-byte aligned
      int8_params_v.resize((cout % 64 == 0 ? 6 : 3) * int8_stride);
      int32_t* mult_u16 = int8_params_v.data();
      int32_t* offset_round = mult_u16 + int8_stride;
      int32_t* shift = offset_round + int8_stride;
      for (int c = 0; c < cout; ++c) {
        mult_u16[c] = static_cast<int32_t>(static_cast<uint16_t>(e.mult[c]));
        const int64_t m = e.mult[c] < 0 ? -int64_t{e.mult[c]} : e.mult[c];
        const int64_t b = e.offset[c] < 0 ? -int64_t{e.offset[c]} : e.offset[c];
        const int64_t r = e.shift[c] > 0 ? int64_t{1} << (e.shift[c] - 1) : 0;
        offset_round[c] = static_cast<int32_t>(e.offset[c] + r);
        shift[c] = e.shift[c];
        if (128 * m + b + r >= (int64_t{1} << 31)) int8_fits_32 = false;
      }
      int8_params = mult_u16;
      mult_u16_data = mult_u16;
      offset_round_data = offset_round;
      if (cout % 64 == 0) {
        int32_t* q = shift + int8_stride;
        for (int o = 0; o < cout; ++o) {
          const int v = o % 64 / 16, c = o / 64 * 64 + q64_channel(v, o % 16);
          const auto m = static_cast<uint32_t>(mult_u16[c]);  // M zero-extended
          q[o] = static_cast<int32_t>(v % 2 == 0 ? m : m << 16);
          q[int8_stride + o] = offset_round[c];
          q[2 * int8_stride + o] = shift[c];
        }
        int8_q64 = q;
      }
    }
  }

  // A writer to out_ of the epilogue `params` was made for (a BconvPlan's, made once), with
  // e's post pass and tail (e is params.ep but for those): it shares params' int8 rows
  // instead of building them, so it allocates nothing. Copies every field the constructor
  // above sets: keep the two in step. params must outlive it.
  EpilogueWriter(const Epilogue& e, void* out_, const EpilogueWriter& params)
      : ep(e),
        cout(params.cout),
        out(out_),
        row_elems(params.row_elems),
        clamp(params.clamp),
        int8_fits_32(params.int8_fits_32),
        og_ch(params.og_ch),
        og_words(params.og_words),
        int8_params(params.int8_params),
        int8_stride(params.int8_stride),
        mult_u16_data(params.mult_u16_data),
        offset_round_data(params.offset_round_data),
        int8_q64(params.int8_q64),
        int8_q64_fits(params.int8_q64_fits) {}

  // Routes ep.tail (kInt8) through the micro-kernels' registers; defined in bconv.cc (see
  // write).
  void enable_tail(const ResidualTail* t);

  // Channels o0..o0+nc of output pixel `pix` have d = K − 2·s[c], K = krow ? krow[o] : k.
  // Defined in bconv.cc, which is built for the baseline ISA: an inline definition here would
  // also be emitted (as a weak symbol) by the AVX2 / AVX-512 epilogue files, compiled with
  // their ISA flags, and the linker may keep any one copy.
  void write(const int32_t* s, int32_t k, const int32_t* krow, size_t pix, int o0,
             int nc) const;
};

// The portable tile epilogue (see TileEpilogueFn); defined in bconv.cc (see write).
void finish_tile_scalar(const EpilogueWriter& w, const int32_t* s, int cb, const int32_t* k,
                        const int32_t* const* krow, size_t pix0, int p, int o0, int nc);

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

}  // namespace bnnflow
