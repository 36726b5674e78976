// Every optimized bconv2d / bdense micro-kernel against its scalar twin (and the scalar one
// against a naive loop of the numerics formula) on random and hand-picked shapes: channels not
// a multiple of 32, 1x1 / 3x3 / 5x5 / 7x7 / 2x3 kernels, strides 1-3, all padding modes,
// groups, batch > 1, all four epilogues with and without clamp (int8 also with offsets that
// force the int64 fallback), 1, 2 and 4 threads. Candidates: every native optimized ISA, plus
// the AVX-512 and NEON sources built against SIMDe where the build has them; hand-picked shapes
// reach each tile's fused full blocks, its tile epilogue and the channel-block thread split.
// The int8 post pass (Epilogue::post, the fused residual tail) sees each output row once, after
// all its channels are written. The residual tail in registers (Epilogue::tail: add, pwl, pack
// bits) equals its scalar twin, the post pass of the same formulas, on every candidate; where
// bconv_tail_in_registers says so, no batch calls the post pass (tiles run flat over the batch,
// so only its last tile can be partial).
#include <atomic>
#include <cmath>
#include <cstring>
#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/add/residual.h"
#include "kernels/bconv/bconv.h"
#include "kernels/bconv/bconv_isa.h"
#include "kernels/bconv/epilogue.h"
#include "kernels/bdense/bdense.h"
#include "kernel_test_util.h"

using namespace bnnflow;
using test::uniform;

namespace {

constexpr int kPools = 3;
constexpr int kPoolThreads[kPools] = {1, 2, 4};

struct Case {
  int n, h, w, cg, groups, cout_g, kh, kw, stride, pad;
  PadMode mode;
  int pt = -1, pl = -1, pb = -1, pr = -1;  // padding top, left, bottom, right (-1: pad)
};

// The case with every side set (a side left at -1 takes `pad`).
Case with_sides(Case c) {
  for (int* s : {&c.pt, &c.pl, &c.pb, &c.pr}) {
    if (*s < 0) *s = c.pad;
  }
  return c;
}

std::string describe(const Case& c) {
  static const char* modes[] = {"zero", "one", "valid"};
  char buf[200];
  std::snprintf(buf, sizeof buf, "n=%d h=%d w=%d cg=%d groups=%d cout_g=%d k=%dx%d s=%d p=[%d,%d,%d,%d] %s",
                c.n, c.h, c.w, c.cg, c.groups, c.cout_g, c.kh, c.kw, c.stride, c.pt, c.pl, c.pb, c.pr,
                modes[static_cast<int>(c.mode)]);
  return buf;
}

struct EpilogueData {
  Epilogue ep;
  std::vector<float> scale, bias;
  std::vector<int16_t> mult;
  std::vector<int32_t> offset, shift, threshold;
};

// wide: half of the int8 offsets within 2^23 of ±2^31, so that 128·|M| + |B| + 2^(s−1) ≥ 2^31
// for some channel and the int8 epilogues take their int64 fallback (int8_fits_32 false).
EpilogueData make_epilogue(std::mt19937& rng, EpilogueKind kind, int cout, int k, bool clamp,
                           bool wide = false) {
  EpilogueData e;
  e.ep.kind = kind;
  if (clamp) {
    e.ep.lo = uniform(rng, -k, 0);
    e.ep.hi = uniform(rng, e.ep.lo, k);
  }
  for (int c = 0; c < cout; ++c) {
    e.scale.push_back(static_cast<float>(uniform(rng, -1000, 1000)) / 997.f);
    e.bias.push_back(static_cast<float>(uniform(rng, -1000, 1000)) / 31.f);
    e.mult.push_back(static_cast<int16_t>(uniform(rng, -32767, 32767)));
    const bool extreme = wide && uniform(rng, 0, 1) == 1;  // |B| within 2^23 of 2^31
    const int32_t big = uniform(rng, INT32_MAX - (1 << 23), INT32_MAX);
    e.offset.push_back(extreme ? (uniform(rng, 0, 1) ? big : -big) : uniform(rng, -(1 << 20), 1 << 20));
    e.shift.push_back(uniform(rng, 0, 30));
    const int r = uniform(rng, 0, 9);
    e.threshold.push_back(r == 0 ? INT32_MIN : (r == 9 ? INT32_MAX : uniform(rng, -k, k)));
  }
  e.ep.scale = e.scale.data();
  e.ep.bias = e.bias.data();
  e.ep.mult = e.mult.data();
  e.ep.offset = e.offset.data();
  e.ep.shift = e.shift.data();
  e.ep.threshold = e.threshold.data();
  if (kind == EpilogueKind::kPacked) {
    std::vector<int> divisors;
    for (int g = 1; g <= 4; ++g) {
      if (cout % g == 0) divisors.push_back(g);
    }
    e.ep.out_groups = divisors[uniform(rng, 0, static_cast<int>(divisors.size()) - 1)];
  }
  return e;
}

// float32 outputs: bit-identical (no ISA fuses the multiply-add; see epilogue.h).
bool same_floats(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i += 4) {
    float x, y;
    std::memcpy(&x, &a[i], 4);
    std::memcpy(&y, &b[i], 4);
    if (std::fabs(x - y) > 0.0f) return false;
  }
  return true;
}

size_t elem_size(EpilogueKind k) { return k == EpilogueKind::kInt8 ? 1 : 4; }

std::vector<uint8_t> run(const BconvWeights& w, const std::vector<uint32_t>& x,
                         const BconvGeometry& geo, const Epilogue& ep, ThreadPool& pool) {
  const size_t pixels = static_cast<size_t>(geo.n) * conv_out_size(geo.h, w.kh, geo.stride, geo.pad_top, geo.pad_bottom) *
                        conv_out_size(geo.w, w.kw, geo.stride, geo.pad_left, geo.pad_right);
  std::vector<uint8_t> out(pixels * epilogue_row_elems(ep, w.cout) * elem_size(ep.kind), 0xAB);
  bconv2d(w, x.data(), geo, ep, out.data(), pool);
  return out;
}

// d by the formula of docs/numerics.md §4, one output at a time.
std::vector<int32_t> naive(const Case& c, const std::vector<uint32_t>& x,
                           const std::vector<uint32_t>& w) {
  const int wg = (c.cg + 31) / 32, cout = c.cout_g * c.groups, xw = c.groups * wg;
  const int ho = conv_out_size(c.h, c.kh, c.stride, c.pt, c.pb);
  const int wo = conv_out_size(c.w, c.kw, c.stride, c.pl, c.pr);
  std::vector<int32_t> d;
  for (int b = 0; b < c.n; ++b)
    for (int oy = 0; oy < ho; ++oy)
      for (int ox = 0; ox < wo; ++ox)
        for (int o = 0; o < cout; ++o) {
          const int g = o / c.cout_g;
          int32_t sum = 0;
          for (int i = 0; i < c.kh; ++i)
            for (int j = 0; j < c.kw; ++j) {
              const int iy = oy * c.stride - c.pt + i, ix = ox * c.stride - c.pl + j;
              const uint32_t* wt = &w[((static_cast<size_t>(o) * c.kh + i) * c.kw + j) * wg];
              int pop = 0;
              if (iy >= 0 && iy < c.h && ix >= 0 && ix < c.w) {
                const uint32_t* xt = &x[((static_cast<size_t>(b) * c.h + iy) * c.w + ix) * xw + g * wg];
                for (int k = 0; k < wg; ++k) pop += __builtin_popcount(xt[k] ^ wt[k]);
                sum += c.cg - 2 * pop;
              } else if (c.mode == PadMode::kOne) {
                for (int k = 0; k < wg; ++k) pop += __builtin_popcount(wt[k]);
                sum += c.cg - 2 * pop;
              }
            }
          d.push_back(sum);
        }
  return d;
}

struct Candidate {
  std::string name;
  const BconvMicrokernel* (*table)(int);
  bool fused_all;  // every micro-kernel of the table finishes full blocks in registers
};

std::vector<Candidate> candidates() {
  std::vector<Candidate> out;
  for (Isa isa : test::optimized_isas()) {
    switch (isa) {
#if defined(__x86_64__)
      case Isa::kAvx2: out.push_back({"avx2", &avx2::bconv_microkernel, false}); break;
      case Isa::kAvx512: out.push_back({"avx512", &avx512::bconv_microkernel, true}); break;
#endif
#if defined(__aarch64__)
      case Isa::kNeon: out.push_back({"neon", &neon::bconv_microkernel, true}); break;
#endif
      default: break;
    }
  }
#if defined(BNNFLOW_HAVE_SIMDE_AVX512)
  out.push_back({"avx512-simde", &avx512_simde::bconv_microkernel, true});
#endif
#if defined(BNNFLOW_HAVE_SIMDE_NEON)
  out.push_back({"neon-simde", &neon_simde::bconv_microkernel, true});
#endif
  return out;
}

// An int8 post pass (Epilogue::post) that checks what it is given: rows [p0, p1) already
// hold their final int8 outputs (every channel, as `want`), each row comes exactly once; it
// then flips bits, so the result shows that the pass ran on every row.
struct PostCheck {
  const uint8_t* want;
  size_t cout;
  std::vector<std::atomic<int>>* seen;
  std::atomic<bool>* early;
  static void run(const void* ctx, void* out, size_t p0, size_t p1) {
    const PostCheck& c = *static_cast<const PostCheck*>(ctx);
    uint8_t* y = static_cast<uint8_t*>(out);
    for (size_t i = p0 * c.cout; i < p1 * c.cout; ++i) {
      if (y[i] != c.want[i]) c.early->store(true);
      y[i] ^= 0x5a;
    }
    for (size_t p = p0; p < p1; ++p) ++(*c.seen)[p];
  }
};

void check_post(const BconvWeights& opt, const std::vector<uint32_t>& x, const BconvGeometry& geo,
                Epilogue ep, const std::vector<uint8_t>& want, ThreadPool& pool,
                test::Tally& tally, const std::string& what) {
  const size_t pixels = want.size() / static_cast<size_t>(opt.cout);
  std::vector<std::atomic<int>> seen(pixels);
  std::atomic<bool> early{false};
  PostCheck pc{want.data(), static_cast<size_t>(opt.cout), &seen, &early};
  ep.post.run = &PostCheck::run;
  ep.post.ctx = &pc;
  const auto got = run(opt, x, geo, ep, pool);
  bool ok = !early.load() && got.size() == want.size();
  for (size_t i = 0; ok && i < got.size(); ++i) ok = got[i] == (want[i] ^ 0x5a);
  for (size_t p = 0; ok && p < pixels; ++p) ok = seen[p].load() == 1;
  tally.check(ok, "post pass " + what);
}

// Random parameters of a residual tail (ResidualTail) over `cout` channels: int16 multipliers,
// offsets that sometimes wrap int32, shifts 0..30, pwl and pack each on or off, pack groups
// of whole words or not (the latter take the post pass).
struct TailData {
  ResidualTail tail;
  std::vector<int8_t> r;
  std::vector<int32_t> my, mr, pairs, br, s, t, mp, mn, bp, bn, ps, pack_t;
  std::vector<uint32_t> bits;
  glue::ResidualParams params;
};

// q64: with a pack, one pack group (the AVX-512 tail in 16-bit lanes).
void make_tail(std::mt19937& rng, int cout, size_t pixels, TailData* d, bool q64 = false) {
  const auto i16 = [&] {
    return uniform(rng, 0, 3) == 0 ? uniform(rng, -32768, 32767) : uniform(rng, -3000, 3000);
  };
  const auto offset = [&] {
    return uniform(rng, 0, 7) == 0 ? uniform(rng, INT32_MIN, INT32_MAX)
                                   : uniform(rng, -(1 << 20), 1 << 20);
  };
  for (size_t i = 0; i < pixels * cout; ++i) d->r.push_back(static_cast<int8_t>(uniform(rng, -128, 127)));
  for (int c = 0; c < cout; ++c) {
    d->my.push_back(i16());
    d->mr.push_back(i16());
    d->pairs.push_back(static_cast<int32_t>((static_cast<uint32_t>(d->my[c]) & 0xffffu) |
                                            (static_cast<uint32_t>(d->mr[c]) << 16)));
    d->br.push_back(offset());
    d->s.push_back(uniform(rng, 0, 30));
    d->t.push_back(uniform(rng, -130, 130));
    d->mp.push_back(i16());
    d->mn.push_back(i16());
    d->bp.push_back(offset());
    d->bn.push_back(offset());
    d->ps.push_back(uniform(rng, 0, 30));
    const int r = uniform(rng, 0, 9);
    d->pack_t.push_back(r == 0 ? INT32_MIN : (r == 9 ? INT32_MAX : uniform(rng, -130, 130)));
  }
  ResidualTail& t = d->tail;
  t.r = d->r.data();
  t.my = d->my.data(), t.mr = d->mr.data(), t.pairs = d->pairs.data();
  t.br = d->br.data(), t.s = d->s.data();
  t.pwl = uniform(rng, 0, 2) != 0;
  t.t = d->t.data(), t.mp = d->mp.data(), t.mn = d->mn.data();
  t.bp = d->bp.data(), t.bn = d->bn.data(), t.ps = d->ps.data();
  if (uniform(rng, 0, 3) != 0) {
    std::vector<int> divisors;
    for (int g = 1; g <= 4; ++g) {
      if (cout % g == 0) divisors.push_back(g);
    }
    t.pack_groups = q64 ? 1 : divisors[uniform(rng, 0, static_cast<int>(divisors.size()) - 1)];
    t.pack_t = d->pack_t.data();
    d->bits.assign(pixels * packed_words(cout, t.pack_groups), 0xdeadbeefu);
    t.bits = d->bits.data();
  }
  glue::ResidualParams& p = d->params;
  p.channels = cout;
  p.my = t.my, p.mr = t.mr, p.br = t.br, p.s = t.s, p.pairs = t.pairs;
  p.pwl = t.pwl;
  p.t = t.t, p.mp = t.mp, p.mn = t.mn, p.bp = t.bp, p.bn = t.bn, p.ps = t.ps;
}

// The scalar twin of the tail as a post pass: residual_one per element, then the pack's
// words (whole words, pad bits 0). Counts the rows it finishes.
struct TailPost {
  const TailData* d;
  int cout;
  std::atomic<size_t>* rows;
  static void run(const void* ctx, void* out, size_t p0, size_t p1) {
    const TailPost& c = *static_cast<const TailPost*>(ctx);
    const ResidualTail& t = c.d->tail;
    int8_t* y = static_cast<int8_t*>(out);
    const int og = c.cout / t.pack_groups, words = packed_words(c.cout, t.pack_groups);
    for (size_t p = p0; p < p1; ++p) {
      int8_t* row = y + p * c.cout;
      for (int o = 0; o < c.cout; ++o) {
        row[o] = glue::residual_one(c.d->params, o, row[o], t.r[p * c.cout + o]);
      }
      if (t.bits == nullptr) continue;
      uint32_t* b = t.bits + p * words;
      for (int w = 0; w < words; ++w) b[w] = 0;
      for (int o = 0; o < c.cout; ++o) {
        if (row[o] < t.pack_t[o]) b[o / og * ((og + 31) / 32) + o % og / 32] |= 1u << (o % og % 32);
      }
    }
    *c.rows += p1 - p0;
  }
};

// In-register tails seen per candidate (each candidate must have run some).
std::vector<std::pair<std::string, int>> g_tail_in_registers;

void note_tail(const std::string& name, bool in_registers) {
  for (auto& e : g_tail_in_registers) {
    if (e.first == name) {
      e.second += in_registers;
      return;
    }
  }
  g_tail_in_registers.push_back({name, in_registers ? 1 : 0});
}

// The int8 epilogue with a random residual tail: `opt` against the scalar twin (the `ref`
// weights, whose scalar kernel never finishes in registers) on every pool.
void check_tail(const BconvWeights& ref, const BconvWeights& opt, const std::string& name,
                const std::vector<uint32_t>& x, const BconvGeometry& geo, const Epilogue& ep0,
                std::mt19937& rng, test::Tally& tally, ThreadPool* pools[],
                const std::string& what, bool q64 = false) {
  const size_t pixels = static_cast<size_t>(geo.n) *
                        conv_out_size(geo.h, ref.kh, geo.stride, geo.pad_top, geo.pad_bottom) *
                        conv_out_size(geo.w, ref.kw, geo.stride, geo.pad_left, geo.pad_right);
  TailData want_d;
  make_tail(rng, ref.cout, pixels, &want_d, q64);
  std::atomic<size_t> rows{0};
  TailPost post{&want_d, ref.cout, &rows};
  Epilogue ep = ep0;
  ep.post = {&TailPost::run, &post};
  ep.tail = &want_d.tail;
  tally.check(!bconv_tail_in_registers(ref, ep), "scalar kernel keeps the tail in the post pass");
  const auto want = run(ref, x, geo, ep, *pools[0]);
  const std::vector<uint32_t> want_bits = want_d.bits;
  const bool regs = bconv_tail_in_registers(opt, ep);
  note_tail(name, regs);
  if (opt.kernel->isa == Isa::kAvx512 && opt.kernel->block == 64) {
    note_tail(name + " in 16-bit lanes" + (ep.tail->pwl ? " with pwl" : ""),
              bconv_tail_in_16bit_lanes(opt, ep));
  }
  for (int t = 0; t < kPools; ++t) {
    std::fill(want_d.bits.begin(), want_d.bits.end(), 0xdeadbeefu);
    rows = 0;
    const auto got = run(opt, x, geo, ep, *pools[t]);
    const std::string tw = "tail" + std::string(want_d.tail.pwl ? " pwl" : "") +
                           (want_d.tail.bits ? " pack/" + std::to_string(want_d.tail.pack_groups) : "") +
                           (regs ? " in registers " : " post ") + "threads " +
                           std::to_string(kPoolThreads[t]) + " " + what;
    tally.check(got == want && want_d.bits == want_bits, tw);
    if (regs) tally.check(rows.load() == 0, "no post pass rows: " + tw);
  }
}

// The channel-block thread split of a convolution whose residual tail runs in registers
// (bconv_block_chunks): the threads OR the pack's bits into each pixel's words without
// atomics, so with a pack no word may hold channels of two chunks (AVX2's 16-channel blocks
// split at an odd block would race: a lost bit now and then, which no comparison of outputs
// catches reliably). Without a pack, and with AVX-512's 64-channel blocks, the split must
// still be taken where it beats the tile split (1x1 and 2x2 images, one tile).
void check_block_split(std::mt19937& rng, test::Tally& tally) {
  for (const Candidate& cand : candidates()) {
    bool split_plain = false, split_packed = false;
    for (int cout : {96, 128, 160}) {
      const auto w = test::random_packed(rng, static_cast<size_t>(cout) * 9, 64, 1);
      const BconvWeights opt = prepare_bconv_weights(w.data(), cout, 3, 3, 64, 1,
                                                     cand.table(cout));
      const EpilogueData e = make_epilogue(rng, EpilogueKind::kInt8, cout, 9 * 64, false);
      for (int hw : {1, 2}) {
        const BconvGeometry geo{1, hw, hw, 1, 1, 1, 1, 1, PadMode::kZero};
        for (bool pack : {false, true}) {
          TailData d;
          make_tail(rng, cout, static_cast<size_t>(hw) * hw, &d);
          d.tail.pack_t = pack ? d.pack_t.data() : nullptr;
          d.tail.pack_groups = 1;
          d.bits.assign(static_cast<size_t>(hw) * hw * packed_words(cout, 1), 0);
          d.tail.bits = pack ? d.bits.data() : nullptr;
          std::atomic<size_t> rows{0};
          TailPost post{&d, cout, &rows};
          Epilogue ep = e.ep;
          ep.post = {&TailPost::run, &post};
          ep.tail = &d.tail;
          if (!bconv_tail_in_registers(opt, ep)) continue;
          for (int threads = 2; threads <= 4; ++threads) {
            const int chunks = bconv_block_chunks(opt, geo, ep, threads);
            if (chunks == 1) continue;
            (pack ? split_packed : split_plain) = true;
            if (!pack) continue;
            bool own_words = true;
            for (int c = 1; c < chunks; ++c) {
              size_t b0, b1;
              split_range(static_cast<size_t>(opt.blocks), chunks, c, &b0, &b1);
              own_words = own_words && b0 * opt.kernel->block % 32 == 0;
            }
            tally.check(own_words, cand.name + " (" + opt.kernel->name + ") block split over " +
                                       std::to_string(threads) + " threads, cout " +
                                       std::to_string(cout) + ": every chunk owns its pack words");
          }
        }
      }
    }
    tally.check(split_plain, cand.name + " splits a tail's channel blocks over the threads");
    if (cand.table(64)->block % 32 == 0) {
      tally.check(split_packed,
                  cand.name + " splits a packed tail's channel blocks over the threads");
    }
  }
}

bool is_line_aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }

// The tables the SIMD epilogues read with full-vector loads start on a cache line (a vector
// load of a table at 16, 32 or 48 bytes past a line splits in two; docs/performance.md,
// "Identical blocks, different times"): the int8 parameter rows (any cout) and the residual
// tail's table.
void check_alignment(std::mt19937& rng, test::Tally& tally) {
  for (int cout : {1, 20, 64, 130}) {
    const EpilogueData e = make_epilogue(rng, EpilogueKind::kInt8, cout, 9 * 64, false, false);
    const EpilogueWriter w(e.ep, cout, nullptr);
    const std::string c = " cout " + std::to_string(cout);
    tally.check(w.int8_stride % 16 == 0 && w.int8_stride >= static_cast<size_t>(cout),
                "int8 parameter stride a multiple of 16" + c);
    for (int row = 0; row < 3; ++row) {
      tally.check(is_line_aligned(w.int8_params + row * w.int8_stride),
                  "int8 parameter row " + std::to_string(row) + " 64-byte aligned" + c);
    }
    TailData d;
    make_tail(rng, cout, 4, &d);
    tally.check(is_line_aligned(make_tail_table(e.ep, cout, d.tail).data()),
                "tail table 64-byte aligned" + c);
  }
}

// Packed bits of `lead` rows of `channels` channels in `groups` groups, every real bit set
// (ones) or clear: random_packed's layout, the padding bits of a group's last word clear.
std::vector<uint32_t> constant_packed(size_t lead, int channels, int groups, bool ones) {
  const int cg = channels / groups, wg = (cg + 31) / 32;
  std::vector<uint32_t> out(lead * groups * wg, ones ? ~0u : 0u);
  const uint32_t mask = cg % 32 == 0 ? ~0u : (1u << (cg % 32)) - 1u;
  for (size_t i = wg - 1; i < out.size(); i += wg) out[i] &= mask;
  return out;
}

// saturating: x all ones and w all zeros, so every word of every tap inside the image has the
// largest popcount (32): the ISAs' narrow counters (AVX2's 8-bit ones, 31 words a widening
// round) at the most they may hold. Random bits average half of it and cannot show a round
// one word too long.
void check_case(const Case& c0, std::mt19937& rng, test::Tally& tally, ThreadPool* pools[],
                bool saturating = false) {
  const Case c = with_sides(c0);
  const int cin = c.cg * c.groups, cout = c.cout_g * c.groups;
  const size_t npix = static_cast<size_t>(c.n) * c.h * c.w;
  const size_t nw = static_cast<size_t>(cout) * c.kh * c.kw;
  const auto x = saturating ? constant_packed(npix, cin, c.groups, true)
                            : test::random_packed(rng, npix, cin, c.groups);
  const auto w = saturating ? constant_packed(nw, c.cg, 1, false)
                            : test::random_packed(rng, nw, c.cg, 1);
  BconvGeometry geo{c.n, c.h, c.w, c.stride, c.pt, c.pl, c.pb, c.pr, c.mode};
  const BconvWeights ref =
      prepare_bconv_weights(w.data(), cout, c.kh, c.kw, cin, c.groups, Isa::kScalar);
  {  // the scalar twin against the formula
    Epilogue ep;
    const auto got = run(ref, x, geo, ep, *pools[0]);
    const auto want = naive(c, x, w);
    tally.check(std::memcmp(got.data(), want.data(), got.size()) == 0 &&
                    got.size() == want.size() * 4,
                "scalar vs naive " + describe(c));
  }
  const int k = c.kh * c.kw * c.cg;
  for (const Candidate& cand : candidates()) {
    const BconvWeights opt = prepare_bconv_weights(w.data(), cout, c.kh, c.kw, cin, c.groups,
                                                   cand.table(c.cout_g));
    // Every optimized kernel has a vectorised tile epilogue (and, where the ISA has one, the
    // fused form): a table that silently fell back to the portable epilogue would still be
    // exact, so the comparisons below could not notice.
    tally.check(is_line_aligned(opt.data.data()),
                cand.name + " weights 64-byte aligned " + describe(c));
    tally.check(opt.kernel->finish != nullptr &&
                    (!cand.fused_all || opt.kernel->run_many_finish != nullptr),
                cand.name + " (" + opt.kernel->name + ") has its ISA's epilogue");
    for (int variant = 0; variant < 5; ++variant) {  // int8 twice: narrow and wide offsets
      const EpilogueKind kind = variant == 0 ? EpilogueKind::kInt32
                                : variant == 1 ? EpilogueKind::kFloat
                                : variant == 4 ? EpilogueKind::kPacked
                                               : EpilogueKind::kInt8;
      const bool wide = variant == 3;
      const EpilogueData e = make_epilogue(rng, kind, cout, k, uniform(rng, 0, 1) == 1, wide);
      const auto want = run(ref, x, geo, e.ep, *pools[0]);
      for (int t = 0; t < kPools; ++t) {
        const auto got = run(opt, x, geo, e.ep, *pools[t]);
        const std::string what = cand.name + " (" + opt.kernel->name + ") epilogue " +
                                 std::to_string(static_cast<int>(kind)) + (wide ? " wide" : "") +
                                 " threads " + std::to_string(kPoolThreads[t]) + " " +
                                 describe(c);
        tally.check(kind == EpilogueKind::kFloat ? same_floats(got, want) : got == want, what);
        if (kind == EpilogueKind::kInt8) check_post(opt, x, geo, e.ep, want, *pools[t], tally, what);
      }
      if (kind == EpilogueKind::kInt8) {
        const std::string tw = cand.name + " (" + opt.kernel->name + ")" +
                               (wide ? " wide " : " ") + describe(c);
        check_tail(ref, opt, cand.name, x, geo, e.ep, rng, tally, pools, tw);
        // one pack group: AVX-512's 64-channel blocks take the 16-bit lanes
        if (cout % 64 == 0) {
          check_tail(ref, opt, cand.name, x, geo, e.ep, rng, tally, pools, tw, true);
        }
      }
      if (kind == EpilogueKind::kInt8) check_post(ref, x, geo, e.ep, want, *pools[1], tally,
                                                  "scalar " + describe(c));
    }
  }
}

void check_dense(std::mt19937& rng, test::Tally& tally, ThreadPool* pools[]) {
  const int n = uniform(rng, 1, 20), cin = uniform(rng, 1, 700), cout = uniform(rng, 1, 150);
  const auto x = test::random_packed(rng, n, cin, 1);
  const auto w = test::random_packed(rng, cout, cin, 1);
  const BconvWeights ref = prepare_bdense_weights(w.data(), cout, cin, Isa::kScalar);
  for (const Candidate& cand : candidates()) {
    const BconvWeights opt =
        prepare_bconv_weights(w.data(), cout, 1, 1, cin, 1, cand.table(cout));
    for (EpilogueKind kind : {EpilogueKind::kInt32, EpilogueKind::kPacked}) {
      const EpilogueData e = make_epilogue(rng, kind, cout, cin, false);
      const size_t bytes = static_cast<size_t>(n) * epilogue_row_elems(e.ep, cout) * 4;
      std::vector<uint8_t> want(bytes), got(bytes);
      bdense(ref, x.data(), n, e.ep, want.data(), *pools[0]);
      for (int t = 0; t < kPools; ++t) {
        for (size_t i = 0; i < bytes; ++i) got[i] = static_cast<uint8_t>(~want[i]);  // unwritten fails
        bdense(opt, x.data(), n, e.ep, got.data(), *pools[t]);
        tally.check(got == want, "bdense " + cand.name + " n=" + std::to_string(n) +
                                     " cin=" + std::to_string(cin) +
                                     " cout=" + std::to_string(cout));
      }
    }
  }
}

}  // namespace

int main() {
  test::Tally tally;
  ThreadPool one(kPoolThreads[0]), two(kPoolThreads[1]), four(kPoolThreads[2]);
  ThreadPool* pools[kPools] = {&one, &two, &four};
  std::mt19937 rng(1234);
  const std::vector<Case> fixed = {
      {1, 8, 8, 64, 1, 64, 3, 3, 1, 1, PadMode::kZero},
      {2, 9, 7, 64, 1, 128, 3, 3, 2, 1, PadMode::kOne},
      {1, 7, 7, 256, 1, 64, 3, 3, 1, 1, PadMode::kZero},
      {2, 6, 6, 40, 2, 24, 1, 1, 1, 0, PadMode::kValid},
      {1, 11, 11, 33, 1, 17, 5, 5, 2, 2, PadMode::kZero},
      {1, 10, 10, 70, 3, 33, 5, 5, 1, 2, PadMode::kOne},
      {1, 9, 9, 8, 1, 65, 7, 7, 2, 3, PadMode::kZero},
      {3, 5, 4, 100, 2, 9, 2, 3, 1, 1, PadMode::kOne},
      {1, 4, 4, 1000, 1, 20, 3, 3, 1, 1, PadMode::kZero},  // > 31 words per tap
      {1, 3, 3, 5, 4, 1, 3, 3, 1, 1, PadMode::kZero},      // one output channel per group
      // whole channel blocks: interior tiles read their windows without indirection rows
      {2, 12, 13, 128, 1, 64, 3, 3, 1, 1, PadMode::kZero},
      {2, 10, 11, 50, 2, 64, 3, 3, 1, 0, PadMode::kValid},
      {1, 12, 12, 64, 1, 32, 3, 3, 1, 1, PadMode::kOne},
      {3, 9, 10, 20, 3, 16, 5, 5, 1, 2, PadMode::kZero},
      // few tiles, many blocks: threads split the channel blocks ('zero' K rows per thread)
      {1, 5, 5, 64, 1, 256, 3, 3, 1, 1, PadMode::kZero},
      {1, 6, 6, 32, 2, 96, 3, 3, 1, 1, PadMode::kZero},
      // channel-block split (with 4 threads) over mostly direct interior tiles
      {1, 10, 10, 32, 1, 512, 3, 3, 1, 1, PadMode::kZero},
      {1, 12, 13, 128, 1, 64, 3, 3, 1, 1, PadMode::kZero},
      // AVX-512 64-channel blocks in 16-bit lanes near their limit (K = 9·2816 = 25344 <=
      // 32767): border pixels' K rows packed to int16 at a large K
      {1, 6, 7, 2816, 1, 64, 3, 3, 1, 1, PadMode::kZero},
      // NEON tiles (4x16, 8x8): full 16- and 8-channel blocks finished in registers; batch
      // > 1 with a partial last tile per image, so some groups of full blocks go through the
      // tile epilogue (16-channel steps); 4-channel steps and tails of partial blocks
      {2, 5, 5, 64, 1, 32, 3, 3, 1, 1, PadMode::kZero},
      {3, 3, 5, 40, 2, 8, 3, 3, 1, 1, PadMode::kOne},
      {2, 7, 6, 24, 3, 16, 3, 3, 1, 1, PadMode::kZero},
      {1, 9, 9, 96, 1, 48, 3, 3, 2, 1, PadMode::kZero},
      {2, 6, 7, 45, 1, 28, 2, 3, 1, 0, PadMode::kValid},
      {1, 8, 9, 33, 2, 23, 3, 3, 1, 1, PadMode::kOne},
      {2, 4, 5, 17, 1, 12, 1, 1, 1, 0, PadMode::kValid},
      {3, 5, 3, 64, 4, 4, 3, 3, 1, 1, PadMode::kZero},
      // groups of exactly 8 output channels: NEON 8x8 (AVX-512 8x16) full blocks in registers
      {1, 8, 8, 64, 2, 8, 3, 3, 1, 1, PadMode::kZero},
      {1, 10, 12, 50, 4, 8, 3, 3, 1, 1, PadMode::kOne},
      {2, 8, 8, 32, 3, 8, 1, 1, 1, 0, PadMode::kValid},
      {1, 11, 9, 20, 2, 8, 3, 3, 2, 1, PadMode::kZero},
      // TF "same" padding: the extra row / column at the bottom / right
      {1, 8, 8, 64, 1, 64, 3, 3, 2, 0, PadMode::kZero, 0, 0, 1, 1},
      {2, 10, 9, 128, 1, 64, 3, 3, 2, 0, PadMode::kOne, 0, 0, 1, 1},
      {1, 7, 8, 40, 2, 24, 5, 5, 2, 0, PadMode::kZero, 1, 1, 2, 2},
      {1, 9, 6, 70, 1, 130, 3, 3, 1, 0, PadMode::kOne, 0, 2, 2, 0},
      // the zero-padded input copy: padding as wide as the window or wider (whole windows,
      // rows and columns in the padding), one-sided, and inputs large enough that 2 and 4
      // threads split the copy (plain and nibble-split words)
      {1, 5, 6, 64, 1, 64, 3, 3, 1, 3, PadMode::kZero},
      {2, 4, 4, 64, 1, 64, 3, 3, 2, 4, PadMode::kOne},
      {2, 6, 5, 32, 2, 32, 3, 3, 1, 0, PadMode::kZero, 3, 0, 0, 4},
      {1, 3, 7, 96, 1, 64, 5, 5, 3, 0, PadMode::kZero, 0, 5, 6, 0},
      {1, 66, 66, 64, 1, 16, 3, 3, 3, 1, PadMode::kZero},
      {2, 50, 46, 128, 1, 16, 3, 3, 3, 1, PadMode::kOne},
      // 3x3 windows of 2-word taps (33 to 64 input channels, one group): AVX-512's tiles
      // unrolled at compile time (Fixed3x3Rows) — tiles across row ends, odd widths, batch
      // > 1, stride 2 and 3, one-sided padding, 8x32 / 8x16 tiles too
      {2, 13, 11, 64, 1, 64, 3, 3, 1, 1, PadMode::kZero},
      {1, 15, 9, 64, 1, 128, 3, 3, 2, 1, PadMode::kOne},
      {2, 9, 13, 48, 1, 64, 3, 3, 1, 0, PadMode::kValid},
      {1, 10, 7, 64, 1, 64, 3, 3, 1, 0, PadMode::kZero, 1, 0, 0, 1},
      {3, 11, 11, 40, 1, 192, 3, 3, 3, 1, PadMode::kZero},
      {2, 9, 10, 64, 1, 32, 3, 3, 1, 1, PadMode::kOne},
      {1, 14, 9, 64, 1, 16, 3, 3, 2, 1, PadMode::kZero},
      // the AVX-512 residual tail in 16-bit lanes (64-channel blocks): groups, 192 channels,
      // batch > 1, odd widths; and kh·kw·Cg > 32767 (int16 sums would not be exact)
      {1, 7, 9, 48, 2, 64, 3, 3, 1, 1, PadMode::kZero},
      {2, 9, 7, 100, 1, 192, 3, 3, 1, 1, PadMode::kOne},
      {1, 4, 5, 4000, 1, 64, 3, 3, 1, 1, PadMode::kZero},
      // the AVX2 2x32 tile (groups of a multiple of 32 output channels): odd pixel counts (a
      // last tile of one pixel), batch > 1 with an odd image (a partial tile per image),
      // stride 2, groups of 32, 3 blocks of 32; and beside it the 4x16 tile's 48 and 80
      // channels (whole 16-channel blocks), 16- and 9-channel groups
      {3, 7, 5, 64, 1, 64, 3, 3, 1, 1, PadMode::kZero},
      {1, 9, 7, 64, 1, 96, 3, 3, 2, 1, PadMode::kOne},
      {2, 5, 7, 128, 2, 32, 3, 3, 1, 1, PadMode::kZero},
      {1, 7, 7, 96, 1, 48, 3, 3, 1, 1, PadMode::kZero},
      {2, 3, 5, 64, 1, 80, 3, 3, 1, 0, PadMode::kValid},
      {1, 11, 9, 256, 1, 64, 3, 3, 2, 1, PadMode::kZero},
      {2, 5, 5, 64, 4, 16, 3, 3, 1, 1, PadMode::kOne},
      {1, 6, 7, 40, 3, 9, 3, 3, 1, 1, PadMode::kZero},
      // the AVX2 2x32 tile's second pair of pixels reading the taps backwards (PairTile):
      // QuickNet's 512-channel 7x7 layer ('one', 49 pixels: 12 tiles of 4 and one of 1),
      // batch > 1 at 7x7 (a partial tile per image), 16 and 25 words a tap (widening rounds
      // that end inside a tap, in both directions), 25 pixels a image, 'zero' K rows
      {1, 7, 7, 512, 1, 512, 3, 3, 1, 1, PadMode::kOne},
      {2, 7, 7, 512, 1, 64, 3, 3, 1, 1, PadMode::kZero},
      {1, 6, 9, 800, 1, 96, 3, 3, 1, 1, PadMode::kZero},
      {3, 5, 5, 96, 1, 64, 3, 3, 1, 1, PadMode::kOne},
      // 3-wide windows of 2-word taps, one group, whole 64-channel blocks: AVX-512's full
      // adder over each window row's three taps from the input's row triples — 1x3 and 5x3
      // windows, no padding (the triples of the caller's input itself), batch 3 with a
      // partial tile per image, a larger image whose tiles 2 and 4 threads split, stride 2
      // and 3, 192 channels, 40 input channels (a part-filled second word), one-sided pads
      {3, 7, 9, 64, 1, 64, 1, 3, 1, 0, PadMode::kValid},
      {2, 11, 8, 60, 1, 128, 5, 3, 1, 0, PadMode::kZero, 2, 1, 2, 1},
      {1, 20, 19, 64, 1, 64, 3, 3, 1, 1, PadMode::kZero},
      {2, 10, 10, 64, 1, 192, 3, 3, 3, 1, PadMode::kOne},
      {1, 9, 9, 64, 1, 64, 3, 3, 1, 0, PadMode::kValid},
      {2, 12, 11, 40, 1, 64, 3, 3, 2, 0, PadMode::kZero, 0, 0, 1, 1},
      // ... and of 4-word taps (97 to 128 input channels)
      {2, 9, 8, 100, 1, 64, 5, 3, 1, 0, PadMode::kZero, 2, 1, 2, 1},
      {1, 14, 10, 128, 1, 128, 3, 3, 2, 1, PadMode::kOne},
      {3, 7, 7, 128, 1, 64, 1, 3, 1, 0, PadMode::kValid},
      // ... and of 8, 16, 88 words (a multiple of 4: the word count at run time)
      {2, 8, 9, 256, 1, 128, 3, 3, 1, 1, PadMode::kOne},
      {1, 9, 8, 512, 1, 64, 3, 3, 2, 1, PadMode::kZero},
      {1, 7, 8, 240, 1, 64, 1, 3, 1, 0, PadMode::kValid},
  };
  check_alignment(rng, tally);
  check_block_split(rng, tally);
  for (const Case& c : fixed) check_case(c, rng, tally, pools);
  // Every word at its largest popcount, for 1 to 33 words a tap: AVX2's fixed 2-, 4- and 8-word
  // taps (15, 7 and 3 taps a widening round), the whole-tap rounds (<= 15 words) and the 31-word
  // budget (rounds ending inside a tap), forwards and, in the 2x32 tile's second pair, backwards
  // (3x3 outputs: tiles of 4, 4, 1 pixels); 2x32, 4x16 and 8x8 tiles; 'zero' borders and 'one'.
  for (int wg : {1, 2, 3, 4, 8, 15, 16, 25, 31, 32, 33}) {
    for (int cout_g : {64, 48, 8}) {
      if (wg > 16 && cout_g != 64) continue;  // the same budget loop in every tile
      check_case({1, 5, 5, 32 * wg, 1, cout_g, 3, 3, 1, 0, PadMode::kValid}, rng, tally, pools,
                 true);
    }
    check_case({2, 4, 5, 32 * wg - 5, 1, 32, 3, 3, 1, 1, wg % 2 ? PadMode::kZero : PadMode::kOne},
               rng, tally, pools, true);
  }
  // more taps than one widening round holds for 1-, 2- and 4-word taps (31, 15, 7 a round)
  for (int cg : {32, 64, 128}) {
    check_case({1, 6, 7, cg, 1, 64, 5, 5, 1, 0, PadMode::kValid}, rng, tally, pools, true);
    check_case({1, 8, 9, cg, 1, 32, 7, 7, 1, 0, PadMode::kValid}, rng, tally, pools, true);
  }
  const int ks[][2] = {{1, 1}, {3, 3}, {5, 5}, {7, 7}, {2, 3}, {3, 1}};
  const PadMode modes[] = {PadMode::kZero, PadMode::kOne, PadMode::kValid};
  for (int i = 0; i < 120; ++i) {
    Case c;
    c.n = uniform(rng, 1, 3);
    const auto& k = ks[uniform(rng, 0, 5)];
    c.kh = k[0];
    c.kw = k[1];
    c.mode = modes[uniform(rng, 0, 2)];
    // every side its own padding (TF "same" is asymmetric); a third of the cases symmetric
    const int pmax = c.mode == PadMode::kValid ? 0 : std::min(c.kh, c.kw) - 1;
    c.pad = uniform(rng, 0, pmax);
    if (i % 3 != 0) {
      for (int* s : {&c.pt, &c.pl, &c.pb, &c.pr}) *s = uniform(rng, 0, pmax);
    }
    c = with_sides(c);
    c.stride = uniform(rng, 1, 3);
    c.h = std::max(uniform(rng, 1, 12), c.kh - c.pt - c.pb);
    c.w = std::max(uniform(rng, 1, 14), c.kw - c.pl - c.pr);
    c.groups = uniform(rng, 1, 3);
    c.cg = uniform(rng, 1, 130);
    c.cout_g = uniform(rng, 1, 80);
    check_case(c, rng, tally, pools);
  }
  for (int i = 0; i < 30; ++i) check_dense(rng, tally, pools);
  for (const auto& e : g_tail_in_registers) {
    tally.check(e.second > 0, e.first + " ran the residual tail in registers");
  }
  return tally.finish();
}
