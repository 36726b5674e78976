// Binary direct convolution on packed NHWC bits (docs/numerics.md §4), with fused epilogues.
//
//   d = Σ_{taps inside} Cg − 2·popcount(x_tap xor w_tap) + Σ_{padded taps} pad_term
//
// The weights are re-arranged once (prepare_bconv_weights) into the layout the chosen ISA's
// micro-kernel reads: per group and block of `block` output channels,
//   [G][blocks][KH][KW][Wg][block] uint32   (output channels innermost: SIMD lanes;
//   [G][blocks][KH][KW][Wg][2][block] for nibble-split kernels),
// zero-padded to whole blocks, plus the per-tap weight popcounts the 'zero' padding mode needs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/aligned_vector.h"
#include "common/cpu_features.h"
#include "common/threadpool.h"

namespace bnnflow {

enum class PadMode { kZero = 0, kOne = 1, kValid = 2 };
enum class EpilogueKind { kInt32 = 0, kFloat = 1, kInt8 = 2, kPacked = 3 };

// Optional finishing pass of an int8 epilogue (the fused residual tail of engine steps,
// docs/runtime.md "Fused steps"): once the int8 outputs of output pixels [pix0, pix1) (flat
// over the batch, every channel) are written, run(ctx, out, pix0, pix1) is called on the
// thread that wrote them, while they are in cache: once per group of pixel tiles. With a post
// pass the threads split pixel tiles only (never channel blocks), so each call sees whole rows.
struct EpiloguePost {
  void (*run)(const void* ctx, void* out, size_t pix0, size_t pix1) = nullptr;
  const void* ctx = nullptr;
};

// The residual tail of a fused block finished in the micro-kernel's registers (docs/runtime.md
// "Fused steps"; the formulas of kernels/add/residual.h). After the int8 requant y of output
// channel c of pixel p (the bconv's int8 epilogue, before it is stored):
//   v = saturate(rshift_round(My[c]·y + Mr[c]·r[p][c] + B[c], s[c]))            (add_int8)
//   v = saturate(rshift_round(v >= t[c] ? Mp[c]·v + Bp[c] : Mn[c]·v + Bn[c], ps[c]))  (pwl)
// v is the int8 output, and with a pack its sign bit v < pack_t[c] goes to bits [pixels]
// [packed_words(cout, pack_groups)] (pack_int8). The sums wrap modulo 2^32 as add_int8 and
// pwl_int8 do. bconv2d runs it in registers when every channel block of the call finishes
// there (full blocks, an int8 requant exact in 32 bits, pack groups of whole words); every
// other tile group gets Epilogue::post, which must compute the same tail (the scalar twin).
struct ResidualTail {
  const int8_t* r = nullptr;         // the residual [pixels][cout]
  const int32_t* my = nullptr;       // My, Mr (int16 values)
  const int32_t* mr = nullptr;
  const int32_t* pairs = nullptr;    // (My & 0xffff) | (Mr << 16), for 16-bit multiply-adds
  const int32_t* br = nullptr;       // B + 2^(s−1) (s > 0), wrapped to int32
  const int32_t* s = nullptr;        // 0..30
  bool pwl = false;
  const int32_t* t = nullptr;
  const int32_t* mp = nullptr;       // Mp, Mn (int16 values)
  const int32_t* mn = nullptr;
  const int32_t* bp = nullptr;       // Bp + 2^(ps−1), Bn + 2^(ps−1)
  const int32_t* bn = nullptr;
  const int32_t* ps = nullptr;       // 0..30
  uint32_t* bits = nullptr;          // the pack's output, or null (no pack)
  const int32_t* pack_t = nullptr;
  int pack_groups = 1;
  // The x86 tails' parameter table (make_tail_table) for this tail and the bconv's int8
  // epilogue, made once per model; null: each bconv2d call makes it.
  const int32_t* table = nullptr;
};

struct Epilogue;
// The residual tail's parameters and the int8 requant of `ep` interleaved per 16 channels
// (EpilogueWriter::tail_table, rows TailParam of epilogue.h; the pack threshold rows when
// t.pack_t is set; t.r and t.bits are not read). They depend on the weights alone, so a step that runs a tail
// builds the table once (ResidualTail::table).
AlignedVector<int32_t> make_tail_table(const Epilogue& ep, int cout, const ResidualTail& t);

// What happens to d after the popcounts: an optional clamp d' = min(max(d, lo), hi) (lo/hi
// default to the full int32 range, i.e. no clamp), then one of the four outputs.
struct Epilogue {
  EpilogueKind kind = EpilogueKind::kInt32;
  int32_t lo = INT32_MIN, hi = INT32_MAX;
  const float* scale = nullptr;       // kFloat: y = float(d') * scale[c] + bias[c]
  const float* bias = nullptr;
  const int16_t* mult = nullptr;      // kInt8: saturate(rshift_round(M·clamp(d',-128,127) + B, s))
  const int32_t* offset = nullptr;
  const int32_t* shift = nullptr;
  const int32_t* threshold = nullptr; // kPacked: bit = d' < T[c], packed with out_groups
  int out_groups = 1;
  EpiloguePost post;                  // kInt8 only: see EpiloguePost
  // kInt8 only, with post (its fallback): the residual tail in registers (ResidualTail).
  const ResidualTail* tail = nullptr;
};

// Words per pixel of a packed output with `channels` channels in `groups` groups.
inline int packed_words(int channels, int groups) {
  return groups * ((channels / groups + 31) / 32);
}

// One ISA's register-tiled micro-kernel: for `p` <= max_pixels output pixels and one block of
// `block` output channels it computes
//   out[i][c] = Σ_t Σ_{j<wg} popcount(x[t*max_pixels + i][xoff + j] xor w[(t*wg + j)*block + c])
// x holds one pointer per (tap, pixel): the input pixel's first word (the driver's input is
// zero-padded, so padded taps read zero words there). out is int32 [max_pixels][block].
//
// A split_nibbles kernel reads both operands nibble-split: every word v is stored as the pair
// (v & 0x0f0f0f0f, (v >> 4) & 0x0f0f0f0f) — weights as [..][Wg][2][block], activations as
// [pixel][2·words] (the driver splits the input once per call) — so its table popcount needs
// no masking; its xoff and x strides count split words.
struct EpilogueWriter;
// Finishes a tile: pixel i (< p) has popcount sums s[i·cb + c], so for channels o = o0 + c,
// c < nc: d = K − 2·s[i·cb + c] with K = k[i], or K = krow[i][o] when krow[i] is not null
// (pixels with padded taps in mode 'zero'); then the epilogue (epilogue.h).
using TileEpilogueFn = void (*)(const EpilogueWriter& w, const int32_t* s, int cb,
                                const int32_t* k, const int32_t* const* krow, size_t pix0,
                                int p, int o0, int nc);

// Where a fused micro-kernel reads tile t's pixels: tap `tap` of pixel i starts at
// base[t·max_pixels + i] + tap_off[tap]. Every window lies inside the input the driver hands
// the micro-kernels (a zero-padded copy when the geometry pads), so no tile needs indirection
// rows. row3 (0: none): bytes from an input word to the same word of the input's row triples
// (RowTriplesFn; the driver makes them only for a kernel with row_triples and 3-wide windows).
struct TileRows {
  const uint32_t* const* base;
  const size_t* tap_off;
  ptrdiff_t row3 = 0;
};

// Row triples of the input the micro-kernels read: h[k] = x[k] ^ x[k + step] ^ x[k + 2·step]
// for k < n (step: words per input pixel), the xor of a 3-wide window row's activation words.
using RowTriplesFn = void (*)(const uint32_t* x, size_t n, size_t step, uint32_t* h);

// Optional fused form of run_many for full channel blocks: instead of writing sums, tile t
// (pixels i < max_pixels, or p_last for the last tile) goes straight through the epilogue with
// K = k[t·max_pixels + i] (or the row krow[t·max_pixels + i]) at pixel pix0[t] + i.
using FusedRunFn = void (*)(const TileRows& rows, int taps, int wg, int xoff, const uint32_t* w,
                            int ntiles, int p_last, const EpilogueWriter& ew, const int32_t* k,
                            const int32_t* const* krow, const size_t* pix0, int o0);

struct BconvMicrokernel {
  const char* name;
  Isa isa;
  int max_pixels;
  int block;
  void (*run)(const uint32_t* const* x, int taps, int wg, int xoff, const uint32_t* w, int p,
              int32_t* out);
  bool split_nibbles = false;
  TileEpilogueFn finish = nullptr;  // nullptr: the portable epilogue
  // Optional: `ntiles` tiles in one call (tile k reads x + k·taps·max_pixels and writes
  // out + k·max_pixels·block; all full but the last, which has p_last pixels).
  void (*run_many)(const uint32_t* const* x, int taps, int wg, int xoff, const uint32_t* w,
                   int ntiles, int p_last, int32_t* out) = nullptr;
  FusedRunFn run_many_finish = nullptr;
  // Optional: the fused tiles of 3-wide windows, 2 words a tap or a multiple of 4, and one
  // group read the input's row triples too (TileRows::row3); the driver makes them with this
  // (AVX-512 6x64).
  RowTriplesFn row_triples = nullptr;
};

// The micro-kernel an ISA uses for groups of `cout_g` output channels (throws
// std::invalid_argument if the ISA is not compiled into this build or not supported by this CPU).
const BconvMicrokernel* bconv_microkernel(Isa isa, int cout_g);

struct BconvWeights {
  const BconvMicrokernel* kernel = nullptr;
  int cout = 0, kh = 0, kw = 0, cin = 0, groups = 1;
  int cg = 0, wg = 0, cout_g = 0, blocks = 0;  // per group: Cin/G, words, Cout/G, blocks
  AlignedVector<uint32_t> data;    // [G][blocks][KH][KW][Wg][block] ([..][Wg][2][block] split)
  std::vector<int32_t> tap_pop;    // [KH*KW][Cout]: popcount(w[o, tap, :])
  std::vector<uint32_t> raw;       // the packed weights as given, [Cout][KH][KW][Wg]
  Isa isa() const { return kernel->isa; }
};

// w: packed weights [cout][kh][kw][ceil((cin/groups)/32)]. Requires cin % groups == 0,
// cout % groups == 0.
BconvWeights prepare_bconv_weights(const uint32_t* w, int cout, int kh, int kw, int cin,
                                   int groups, const BconvMicrokernel* kernel);
BconvWeights prepare_bconv_weights(const uint32_t* w, int cout, int kh, int kw, int cin,
                                   int groups, Isa isa);

// Padding per side (docs/format.md, Padding): output pixel (oy, ox) reads tap (ky, kx) at
// input (oy·stride − pad_top + ky, ox·stride − pad_left + kx); a tap outside [0,h)×[0,w) is
// padded. pad_bottom / pad_right only set the output size (TF "same" padding puts the odd
// extra row / column there).
struct BconvGeometry {
  int n = 1, h = 1, w = 1;  // input batch and size
  int stride = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  PadMode mode = PadMode::kZero;
};

// Output size of a window of k taps: (in + pad_begin + pad_end − k) / stride + 1 (<= 0: empty).
inline int conv_out_size(int in, int k, int stride, int pad_begin, int pad_end) {
  const int span = in + pad_begin + pad_end - k;
  return span < 0 ? 0 : span / stride + 1;
}

// x: packed input [n][h][w][groups*wg]; out: [n][Ho][Wo][Cout] of int32 / float / int8, or
// uint32 [n][Ho][Wo][packed_words(Cout, out_groups)] for kPacked. Makes its BconvPlan per call
// (allocations); a caller that runs the same layer again makes it once (plan_bconv).
void bconv2d(const BconvWeights& w, const uint32_t* x, const BconvGeometry& geo,
             const Epilogue& ep, void* out, ThreadPool& pool);

// What bconv2d derives from the weights, the geometry and the epilogue before it reads the
// input: the output size, the size of the padded input and the taps' offsets in it, mode
// 'zero''s per-channel K rows of the border windows, the int8 epilogue's parameter rows, the
// fused / in-register decisions. Independent of the batch. Keeps a pointer to the weights
// (and the epilogue's parameter arrays): it must not outlive them. Immutable: several threads
// may run calls of one plan at once.
struct BconvPlan;

// The plan of bconv2d(w, ·, geo, ep, ·) for any geo.n (geo.n is ignored) and any ep.post /
// ep.tail. Throws std::invalid_argument for what bconv2d refuses (bad padding).
std::shared_ptr<const BconvPlan> plan_bconv(const BconvWeights& w, const BconvGeometry& geo,
                                            const Epilogue& ep);

// bconv2d of `n` images with a plan from plan_bconv: the same outputs, and no allocation on
// the call path once the calling threads' scratch (the padded input, the tile tables) has
// grown to the layer's size. ep must be the plan's epilogue but for post and tail (its
// parameter pointers are compared: std::invalid_argument otherwise).
void bconv2d(const BconvPlan& plan, const uint32_t* x, int n, const Epilogue& ep, void* out,
             ThreadPool& pool);

// Output elements per output pixel for an epilogue.
int epilogue_row_elems(const Epilogue& ep, int cout);

// Whether bconv2d with these weights runs ep.tail in the micro-kernel's registers (for every
// tile group: tiles run flat over the batch's pixels, so only its last tile can be partial);
// false without a tail.
bool bconv_tail_in_registers(const BconvWeights& w, const Epilogue& ep);

// Whether the AVX-512 6x64 tiles run that tail in 16-bit lanes for their interior tiles
// (EpilogueWriter::tail_q64: kh·kw·Cg <= 32767, pack groups of a multiple of 64 channels);
// for tests.
bool bconv_tail_in_16bit_lanes(const BconvWeights& w, const Epilogue& ep);

// How many chunks of channel blocks bconv2d splits its work into on a pool of `threads`
// threads (1: it splits its pixel tiles instead; bconv.cc, work_split); for tests.
int bconv_block_chunks(const BconvWeights& w, const BconvGeometry& geo, const Epilogue& ep,
                       int threads);

}  // namespace bnnflow
