// Driver of the binary direct convolution: weight preparation, the (padded) input and window
// origins the micro-kernels read, the thread split and the fused epilogues. ISA-independent.
#include "kernels/bconv/bconv.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/isa_dispatch.h"
#include "kernels/bconv/bconv_isa.h"
#include "kernels/bconv/epilogue.h"

namespace bnnflow {

// The portable epilogue (epilogue.h), compiled here for the baseline ISA only.
void EpilogueWriter::write(const int32_t* s, int32_t k, const int32_t* krow, size_t pix, int o0,
                         int nc) const {
  int32_t d[kMaxBlock];
  for (int c = 0; c < nc; ++c) {
    const int32_t v = (krow ? krow[o0 + c] : k) - 2 * s[c];
    d[c] = clamp ? std::min(std::max(v, ep.lo), ep.hi) : v;
  }
  switch (ep.kind) {
    case EpilogueKind::kInt32: {
      int32_t* y = static_cast<int32_t*>(out) + pix * row_elems + o0;
      for (int c = 0; c < nc; ++c) y[c] = d[c];
      break;
    }
    case EpilogueKind::kFloat: {
      float* y = static_cast<float*>(out) + pix * row_elems + o0;
      const float* a = ep.scale + o0;
      const float* b = ep.bias + o0;
      for (int c = 0; c < nc; ++c) y[c] = static_cast<float>(d[c]) * a[c] + b[c];
      break;
    }
    case EpilogueKind::kInt8: {
      int8_t* y = static_cast<int8_t*>(out) + pix * row_elems + o0;
      for (int c = 0; c < nc; ++c) {
        const int o = o0 + c;
        y[c] = requant_int8(d[c], ep.mult[o], ep.offset[o], ep.shift[o]);
      }
      break;
    }
    case EpilogueKind::kPacked: {
      uint32_t* y = static_cast<uint32_t*>(out) + pix * row_elems;
      for (int c = 0; c < nc; ++c) {
        const int o = o0 + c;
        if (d[c] < ep.threshold[o]) {
          const int g = o / og_ch, oc = o % og_ch;
          y[g * og_words + oc / 32] |= 1u << (oc % 32);
        }
      }
      break;
    }
  }
}

namespace {

// make_tail_table's rows of the 64-channel tail in 16-bit lanes (kTpQMult.., epilogue.h).
void add_q64_rows(const Epilogue& ep, int cout, const ResidualTail& t,
                  AlignedVector<int32_t>* table) {
  const auto u16 = [](int32_t v) { return static_cast<uint32_t>(static_cast<uint16_t>(v)); };
  const int chunks = (cout + 15) / 16;
  for (int j = 0; j < chunks; ++j) {
    int32_t* chunk = table->data() + static_cast<size_t>(j) * kTailParams * 16;
    const int v = j % 4, base = j / 4 * 64;
    for (int i = 0; i < 16; ++i) {
      const int o = base + q64_channel(v, i);
      if (o >= cout) continue;
      const int64_t r = ep.shift[o] > 0 ? int64_t{1} << (ep.shift[o] - 1) : 0;
      const uint32_t m = u16(ep.mult[o]);
      chunk[kTpQMult * 16 + i] = static_cast<int32_t>(v % 2 == 0 ? m : m << 16);
      chunk[kTpQOffset * 16 + i] = static_cast<int32_t>(ep.offset[o] + r);
      chunk[kTpQShift * 16 + i] = ep.shift[o];
      chunk[kTpQPairs * 16 + i] = t.pairs[o];
      chunk[kTpQBr * 16 + i] = t.br[o];
      chunk[kTpQS * 16 + i] = t.s[o];
      if (t.pwl) {
        chunk[kTpQT * 16 + i] = t.t[o];
        chunk[kTpQMp * 16 + i] = static_cast<int32_t>(u16(t.mp[o]));
        chunk[kTpQMn * 16 + i] = static_cast<int32_t>(u16(t.mn[o]));
        chunk[kTpQBp * 16 + i] = t.bp[o];
        chunk[kTpQBn * 16 + i] = t.bn[o];
        chunk[kTpQPs * 16 + i] = t.ps[o];
      }
    }
    if (t.pack_t == nullptr || v != 0) continue;
    auto* t8 = reinterpret_cast<int8_t*>(chunk + kTpQPackT8 * 16);
    uint64_t keep = 0;
    for (int c = 0; c < 64 && base + c < cout; ++c) {
      const int64_t pt = t.pack_t[base + c];
      t8[c] = static_cast<int8_t>(std::min<int64_t>(std::max<int64_t>(pt - 1, -128), 127));
      if (pt > -128) keep |= uint64_t{1} << c;
    }
    std::memcpy(chunk + kTpQKeep * 16, &keep, sizeof keep);
  }
}

}  // namespace

AlignedVector<int32_t> make_tail_table(const Epilogue& ep, int cout, const ResidualTail& t) {
  const auto u16 = [](int32_t v) { return static_cast<int32_t>(static_cast<uint16_t>(v)); };
  const int chunks = (cout + 15) / 16;
  AlignedVector<int32_t> table(static_cast<size_t>(chunks) * kTailParams * 16, 0);
  for (int o = 0; o < cout; ++o) {
    int32_t* row = table.data() + static_cast<size_t>(o / 16) * kTailParams * 16 + o % 16;
    const auto put = [&](TailParam p, int32_t v) { row[p * 16] = v; };
    const int64_t r = ep.shift[o] > 0 ? int64_t{1} << (ep.shift[o] - 1) : 0;
    put(kTpMult, u16(ep.mult[o]));
    put(kTpOffset, static_cast<int32_t>(ep.offset[o] + r));  // as offset_round
    put(kTpShift, ep.shift[o]);
    put(kTpPairs, t.pairs[o]);
    put(kTpBr, t.br[o]);
    put(kTpS, t.s[o]);
    if (t.pwl) {
      put(kTpT, t.t[o]);
      put(kTpMp, u16(t.mp[o]));
      put(kTpMn, u16(t.mn[o]));
      put(kTpBp, t.bp[o]);
      put(kTpBn, t.bn[o]);
      put(kTpPs, t.ps[o]);
    }
    if (t.pack_t != nullptr) {
      put(kTpPackT, t.pack_t[o]);
      // kTpPackT8: sat8(v) < t is not (sat8(v) > t − 1), the byte compare with t − 1 clamped
      // to [−128, 127] (t > 127: never greater, bit 1), except for t <= −128 (bit 0: the
      // keep mask clears it).
      int32_t* row8 = table.data() + (static_cast<size_t>(o / 16) * kTailParams + kTpPackT8) * 16;
      const int64_t tm1 = std::min<int64_t>(std::max<int64_t>(int64_t{t.pack_t[o]} - 1, -128), 127);
      reinterpret_cast<int8_t*>(row8)[o % 16] = static_cast<int8_t>(tm1);
      if (t.pack_t[o] > -128) row8[4] |= static_cast<int32_t>(1u << (o % 16));
    }
  }
  add_q64_rows(ep, cout, t, &table);
  return table;
}

void EpilogueWriter::enable_tail(const ResidualTail* t) {
  tail = t;
  if (t->bits != nullptr) {
    og_ch = cout / t->pack_groups;
    og_words = (og_ch + 31) / 32;
    tail_words = static_cast<size_t>(packed_words(cout, t->pack_groups));
  }
  if (t->table == nullptr) tail_table_v = make_tail_table(ep, cout, *t);
  tail_table = t->table != nullptr ? t->table : tail_table_v.data();
}

void finish_tile_scalar(const EpilogueWriter& w, const int32_t* s, int cb, const int32_t* k,
                        const int32_t* const* krow, size_t pix0, int p, int o0, int nc) {
  for (int i = 0; i < p; ++i) w.write(s + i * cb, k[i], krow[i], pix0 + i, o0, nc);
}

const BconvMicrokernel* bconv_microkernel(Isa isa, int cout_g) {
  return BNNFLOW_ISA_PICK(isa, ::bnnflow, bconv_microkernel)(cout_g);
}

BconvWeights prepare_bconv_weights(const uint32_t* w, int cout, int kh, int kw, int cin,
                                   int groups, Isa isa) {
  if (groups < 1 || cout < 1 || cout % groups != 0) {
    throw std::invalid_argument("cout must be a positive multiple of groups");
  }
  return prepare_bconv_weights(w, cout, kh, kw, cin, groups,
                               bconv_microkernel(isa, cout / groups));
}

BconvWeights prepare_bconv_weights(const uint32_t* w, int cout, int kh, int kw, int cin,
                                   int groups, const BconvMicrokernel* kernel) {
  if (groups < 1) throw std::invalid_argument("groups must be >= 1");
  if (cin < 1 || cin % groups != 0) {
    throw std::invalid_argument("cin must be a positive multiple of groups");
  }
  if (cout < 1 || cout % groups != 0) {
    throw std::invalid_argument("cout must be a positive multiple of groups");
  }
  if (kh < 1 || kw < 1) throw std::invalid_argument("kernel size must be >= 1");
  BconvWeights p;
  p.kernel = kernel;
  p.cout = cout, p.kh = kh, p.kw = kw, p.cin = cin, p.groups = groups;
  p.cg = cin / groups;
  p.wg = (p.cg + 31) / 32;
  p.cout_g = cout / groups;
  const int block = kernel->block, taps = kh * kw, wg = p.wg;
  p.blocks = (p.cout_g + block - 1) / block;
  if (static_cast<long long>(taps) * p.cg >= 65536) {
    throw std::invalid_argument("kh*kw*cin/groups must be < 65536 (numerics contract)");
  }
  const size_t words = static_cast<size_t>(cout) * taps * wg;
  p.raw.assign(w, w + words);
  // Pad bits are 0 by contract; clear them anyway so stray bits cannot leak into d.
  const uint32_t last_mask = (p.cg % 32 == 0) ? ~0u : ((1u << (p.cg % 32)) - 1u);
  for (size_t i = wg - 1; i < words; i += wg) p.raw[i] &= last_mask;
  const int parts = kernel->split_nibbles ? 2 : 1;
  p.data.assign(static_cast<size_t>(groups) * p.blocks * taps * wg * parts * block, 0u);
  p.tap_pop.assign(static_cast<size_t>(taps) * cout, 0);
  for (int o = 0; o < cout; ++o) {
    const int grp = o / p.cout_g, oc = o % p.cout_g, kb = oc / block, c = oc % block;
    for (int t = 0; t < taps; ++t) {
      int pop = 0;
      for (int j = 0; j < wg; ++j) {
        const uint32_t word = p.raw[(static_cast<size_t>(o) * taps + t) * wg + j];
        pop += __builtin_popcount(word);
        const size_t at =
            ((static_cast<size_t>(grp * p.blocks + kb) * taps + t) * wg + j) * parts * block + c;
        if (parts == 1) {
          p.data[at] = word;
        } else {
          p.data[at] = word & 0x0f0f0f0fu;
          p.data[at + block] = (word >> 4) & 0x0f0f0f0fu;
        }
      }
      p.tap_pop[static_cast<size_t>(t) * cout + o] = pop;
    }
  }
  return p;
}

int epilogue_row_elems(const Epilogue& ep, int cout) {
  return ep.kind == EpilogueKind::kPacked ? packed_words(cout, ep.out_groups) : cout;
}

namespace {

constexpr int kTileGroup = 8;  // pixel tiles sharing one pass over each weight block

bool padded(const BconvGeometry& g) {
  return g.pad_top > 0 || g.pad_left > 0 || g.pad_bottom > 0 || g.pad_right > 0;
}

// Mode 'zero': pixels whose window crosses the padding get their own K per channel,
//   (taps − npad)·Cg + 2·Σ_{padded taps} popcount(w_tap),
// so that d = K − 2·S with S summed over every tap (padded ones read zero words). The padded
// taps depend only on which window rows and columns fall inside the input, so each thread
// builds the K rows once per call, one per (row pattern, column pattern).
struct PadKTable {
  std::vector<int> row_pat, col_pat;  // pattern of output row oy / column ox
  int ncols = 0;
  std::vector<const int32_t*> krow;   // [row pattern][col pattern], null: no padded tap
  std::vector<const int32_t*> by_col; // [row pattern][output column]: krow of its pattern
  AlignedVector<int32_t> k;
};

// Pattern ids of the window positions along one axis; a pattern is the [lo, hi) range of
// kernel offsets inside the input (appended to `ranges`).
std::vector<int> axis_patterns(int out, int in, int k, int stride, int pad,
                               std::vector<std::pair<int, int>>* ranges) {
  std::vector<int> id(out);
  for (int o = 0; o < out; ++o) {
    const int i0 = o * stride - pad;
    const std::pair<int, int> r{std::max(0, -i0), std::max(0, std::min(k, in - i0))};
    const auto it = std::find(ranges->begin(), ranges->end(), r);
    id[o] = static_cast<int>(it - ranges->begin());
    if (it == ranges->end()) ranges->push_back(r);
  }
  return id;
}

// K of a padded tap in mode 'zero': kr[o] += 2·popcount(w_tap[o]) − Cg (vectorisable).
void add_pad_tap(int32_t* __restrict kr, const int32_t* __restrict tp, int n, int cg) {
  for (int o = 0; o < n; ++o) kr[o] += 2 * tp[o] - cg;
}

// Only channels [o0, o1) of the rows are filled (a thread's channel blocks).
PadKTable make_pad_k(const BconvWeights& W, const BconvGeometry& g, int ho, int wo, int o0,
                     int o1) {
  PadKTable t;
  std::vector<std::pair<int, int>> rows, cols;
  t.row_pat = axis_patterns(ho, g.h, W.kh, g.stride, g.pad_top, &rows);
  t.col_pat = axis_patterns(wo, g.w, W.kw, g.stride, g.pad_left, &cols);
  t.ncols = static_cast<int>(cols.size());
  const size_t npat = rows.size() * cols.size();
  t.k.assign(npat * W.cout, W.kh * W.kw * W.cg);
  t.krow.assign(npat, nullptr);
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < cols.size(); ++c) {
      int32_t* kr = t.k.data() + (r * cols.size() + c) * W.cout;
      bool padded = false;
      for (int ky = 0; ky < W.kh; ++ky) {
        for (int kx = 0; kx < W.kw; ++kx) {
          if (ky >= rows[r].first && ky < rows[r].second && kx >= cols[c].first &&
              kx < cols[c].second) {
            continue;
          }
          const int32_t* tp = W.tap_pop.data() + static_cast<size_t>(ky * W.kw + kx) * W.cout;
          add_pad_tap(kr + o0, tp + o0, o1 - o0, W.cg);
          padded = true;
        }
      }
      if (padded) t.krow[r * cols.size() + c] = kr;
    }
  }
  t.by_col.resize(rows.size() * wo);
  for (size_t r = 0; r < rows.size(); ++r) {
    for (int ox = 0; ox < wo; ++ox) t.by_col[r * wo + ox] = t.krow[r * t.ncols + t.col_pat[ox]];
  }
  return t;
}

// The residual tail goes through the registers when every channel block finishes there: the
// fused form over full blocks with an int8 requant exact in 32 bits, and pack groups of whole
// words (so every epilogue chunk of 4, 8 or 16 channels lies inside one output word).
bool tail_fits(const BconvWeights& w, const Epilogue& ep, bool int8_fits_32) {
  const ResidualTail* t = ep.tail;
  if (t == nullptr || ep.kind != EpilogueKind::kInt8 || !int8_fits_32) return false;
  if (w.kernel->run_many_finish == nullptr || w.cout_g % w.kernel->block != 0) return false;
  if (32 % w.kernel->block != 0 && w.kernel->block % 32 != 0) return false;
  if (t->bits == nullptr) return true;
  return t->pack_groups >= 1 && w.cout % t->pack_groups == 0 &&
         (w.cout / t->pack_groups) % 32 == 0;
}

// EpilogueWriter::tail_q64 (once the tail is in registers): the popcount sums fit int16,
// and with a pack each 64-channel block's bits are two whole words of the pixel.
bool tail_q64_fits(const BconvWeights& w, const ResidualTail& t, int og_ch) {
  return w.kh * w.kw * w.cg <= 32767 && (t.bits == nullptr || og_ch % 64 == 0);
}

struct ConvContext {
  const BconvWeights* w;
  const BconvGeometry* geo;
  const uint32_t* x;           // the input as the kernels read it (input_view)
  int xh, xw;                  // its rows and columns per image
  int ho, wo, xwords, parts;   // xwords: words per input pixel as the kernel reads them
  size_t total;                // output pixels of the batch (tiles run over them flat)
  const size_t* tap_offset;    // (ky·xw + kx)·xwords, per tap (the plan's)
  const PadKTable* pad_k;      // mode 'zero' with some padding only (the plan's)
  EpilogueWriter writer;
  bool fused = false;              // full channel blocks finish in the micro-kernel
  bool all_fused = false;          // ... and every block is full: no indirection rows
  ptrdiff_t row3 = 0;              // TileRows::row3 (0: no row triples)
};

// Up to kTileGroup consecutive tiles: window origins, indirection rows when some block needs
// them, per-pixel K (null krow: K = taps·Cg, else the per-channel row) laid out
// [tile][max_pixels], first pixels and pixel counts.
struct TileGroup {
  const PadKTable* pad_k = nullptr;  // mode 'zero' with some padding only
  int count = 0;
  bool full_but_last = true;  // all tiles full but the last (the batch's last)
  int p[kTileGroup];
  const uint32_t* base[kTileGroup * kMaxPixels];
  int32_t k_all[kTileGroup * kMaxPixels];
  const int32_t* krow_all[kTileGroup * kMaxPixels];
  size_t pix0_all[kTileGroup];
};

// Where the group set-up stands: the next tile's first output pixel, (oy, ox) of image n.
// Tiles run over the batch's output pixels flat (a tile may end in one image and go on in the
// next), so only the batch's last tile can be partial: small images (2x2 at 6 pixels a tile)
// fill whole tiles at batch > 1.
struct TileCursor {
  size_t n;
  int oy, ox;
};

// Tile slot k of the group at `cur` (then advanced to the next tile), flat output pixels
// [first, first + p): their window origins in the kernels' input (every window lies inside
// it) and K (the pad table's row for windows that cross the original input's border in mode
// 'zero'); with need_ptrs also the indirection rows ptrs[tap·P + i]. Incremental: no division
// per tile.
void build_tile(const ConvContext& ctx, TileCursor* cur, bool need_ptrs, const uint32_t** ptrs,
                TileGroup* grp, int k, size_t first, size_t total) {
  const BconvWeights& W = *ctx.w;
  const int P = W.kernel->max_pixels, taps = W.kh * W.kw, K = taps * W.cg;
  const int p = static_cast<int>(std::min<size_t>(P, total - first));
  const size_t col_step = static_cast<size_t>(ctx.geo->stride) * ctx.xwords;
  const size_t row_step = col_step * ctx.xw;
  const size_t image_words = static_cast<size_t>(ctx.xh) * ctx.xw * ctx.xwords;
  size_t n = cur->n;
  const uint32_t* img = ctx.x + n * image_words;
  const uint32_t** base = grp->base + k * P;
  const int32_t** krow = grp->krow_all + k * P;
  int32_t* kk = grp->k_all + k * P;
  grp->pix0_all[k] = first;
  grp->p[k] = p;
  int oy = cur->oy, ox = cur->ox;
  const uint32_t* at = img + oy * row_step + ox * col_step;
  const PadKTable* pk = grp->pad_k;
  const int32_t* const* krow_r = pk ? pk->by_col.data() + pk->row_pat[oy] * ctx.wo : nullptr;
  for (int i = 0; i < p; ++i, ++ox, at += col_step) {
    if (ox == ctx.wo) {
      ox = 0, ++oy;
      if (oy == ctx.ho) oy = 0, ++n, img += image_words;
      at = img + oy * row_step;
      if (pk) krow_r = pk->by_col.data() + pk->row_pat[oy] * ctx.wo;
    }
    base[i] = at;
    kk[i] = K;
    krow[i] = pk ? krow_r[ox] : nullptr;
  }
  if (ox == ctx.wo) {
    ox = 0, ++oy;
    if (oy == ctx.ho) oy = 0, ++n;
  }
  cur->n = n, cur->oy = oy, cur->ox = ox;
  if (!need_ptrs) return;
  const size_t* off = ctx.tap_offset;
  for (int i = 0; i < p; ++i) {
    for (int t = 0; t < taps; ++t) ptrs[t * P + i] = base[i] + off[t];
  }
}

// Tiles [g0, g0 + count) over the batch's ctx.total output pixels.
void build_group(const ConvContext& ctx, size_t g0, int count, const uint32_t** ptrs,
                 TileGroup* grp) {
  const BconvWeights& W = *ctx.w;
  const size_t P = static_cast<size_t>(W.kernel->max_pixels);
  const size_t per_tile = static_cast<size_t>(W.kh) * W.kw * P;
  const size_t image = static_cast<size_t>(ctx.ho) * ctx.wo;
  const size_t first = g0 * P, rest = first % image;
  TileCursor cur{first / image, static_cast<int>(rest / ctx.wo), static_cast<int>(rest % ctx.wo)};
  grp->count = count;
  // Only the batch's last tile can be partial, and it ends the last range (hence its group).
  grp->full_but_last = true;
  // Every block of a group of full tiles finishes in registers from the window origins.
  const bool need_ptrs = !(ctx.all_fused && grp->full_but_last);
  for (int k = 0; k < count; ++k) {
    build_tile(ctx, &cur, need_ptrs, ptrs + k * per_tile, grp, k, first + k * P, ctx.total);
  }
}

// Output channels [o0, o1) of channel block b.
void block_channels(const BconvWeights& W, size_t b, int* o0, int* o1) {
  const int g = static_cast<int>(b) / W.blocks, kb = static_cast<int>(b) % W.blocks;
  *o0 = g * W.cout_g + kb * W.kernel->block;
  *o1 = std::min(*o0 + W.kernel->block, (g + 1) * W.cout_g);
}

// One channel block b for every tile of the group: micro-kernel, then epilogue.
void run_block(const ConvContext& ctx, const TileGroup& grp, size_t b,
               const uint32_t* const* ptrs, int32_t* tiles) {
  const BconvWeights& W = *ctx.w;
  const BconvMicrokernel& mk = *W.kernel;
  const int P = mk.max_pixels, CB = mk.block, taps = W.kh * W.kw;
  const size_t per_tile = static_cast<size_t>(taps) * P;
  const int g = static_cast<int>(b) / W.blocks, kb = static_cast<int>(b) % W.blocks;
  const int o0 = g * W.cout_g + kb * CB, nc = std::min(CB, W.cout_g - kb * CB);
  const int xoff = g * W.wg * ctx.parts, count = grp.count, p_last = grp.p[count - 1];
  const uint32_t* wb = W.data.data() + b * static_cast<size_t>(taps) * W.wg * ctx.parts * CB;
  if (ctx.fused && grp.full_but_last && nc == CB) {
    const TileRows rows{grp.base, ctx.tap_offset, ctx.row3};
    mk.run_many_finish(rows, taps, W.wg, xoff, wb, count, p_last, ctx.writer, grp.k_all,
                       grp.krow_all, grp.pix0_all, o0);
    return;
  }
  if (mk.run_many && grp.full_but_last) {
    mk.run_many(ptrs, taps, W.wg, xoff, wb, count, p_last, tiles);
  } else {
    for (int k = 0; k < count; ++k) {
      mk.run(ptrs + k * per_tile, taps, W.wg, xoff, wb, grp.p[k],
             tiles + static_cast<size_t>(k) * P * CB);
    }
  }
  const TileEpilogueFn finish = mk.finish ? mk.finish : &finish_tile_scalar;
  for (int k = 0; k < count; ++k) {
    finish(ctx.writer, tiles + static_cast<size_t>(k) * P * CB, CB, grp.k_all + k * P,
           grp.krow_all + k * P, grp.pix0_all[k], grp.p[k], o0, nc);
  }
}

// Pixel tiles [t0, t1) (flat over images), channel blocks [b0, b1): groups of kTileGroup
// tiles share one pass over each weight block, which stays in L1.
// The indirection rows and popcount sums of one tile group: each thread's, grown to the
// largest layer it has run and then reused (no allocation per call).
struct TileScratch {
  std::vector<const uint32_t*> ptrs;
  AlignedVector<int32_t> tiles;
};

void run_tiles(const ConvContext& ctx, size_t t0, size_t t1, size_t b0, size_t b1) {
  const BconvWeights& W = *ctx.w;
  const BconvMicrokernel& mk = *W.kernel;
  const int P = mk.max_pixels;
  thread_local TileScratch scratch;
  const size_t nptrs = static_cast<size_t>(kTileGroup) * W.kh * W.kw * P;
  const size_t ntiles = static_cast<size_t>(kTileGroup) * P * mk.block;
  if (scratch.ptrs.size() < nptrs) scratch.ptrs.resize(nptrs);
  if (scratch.tiles.size() < ntiles) scratch.tiles.resize(ntiles);
  const uint32_t** ptrs = scratch.ptrs.data();
  int32_t* tiles = scratch.tiles.data();
  TileGroup grp;
  grp.pad_k = ctx.pad_k;
  for (size_t g0 = t0; g0 < t1; g0 += kTileGroup) {
    const int count = static_cast<int>(std::min<size_t>(kTileGroup, t1 - g0));
    build_group(ctx, g0, count, ptrs, &grp);
    for (size_t b = b0; b < b1; ++b) run_block(ctx, grp, b, ptrs, tiles);
    const EpiloguePost& post = ctx.writer.ep.post;
    // Every channel block of these pixels is written (b0..b1: all). Groups of full tiles
    // finished the residual tail in registers when the writer has it.
    if (post.run != nullptr && !(ctx.writer.tail != nullptr && grp.full_but_last)) {
      post.run(post.ctx, ctx.writer.out, grp.pix0_all[0],
               grp.pix0_all[count - 1] + static_cast<size_t>(grp.p[count - 1]));
    }
  }
}

// The largest part of n units split over `threads` contiguous ranges, as a fraction of n.
double largest_share(size_t n, int threads) {
  return static_cast<double>((n + threads - 1) / threads) / static_cast<double>(n);
}

constexpr double kIndirectionShare = 0.05;

double block_split_share(size_t nblocks, int threads) {
  return (1.0 - kIndirectionShare) * largest_share(nblocks, threads) + kIndirectionShare;
}

// How bconv2d spreads its work over `threads`: `ranges` contiguous ranges of its pixel tiles
// times `chunks` contiguous ranges of its channel blocks. Threads take ranges of tiles, or of
// channel blocks when that gives the smaller largest share (few tiles: 7x7 images, dense
// layers) — except for packed outputs, whose words are shared between channel blocks. A block
// split repeats the indirection tables on every thread (about kIndirectionShare of the work).
// A post pass needs every channel of its pixels, so it rules the block split out, unless the
// residual tail runs in the registers of every tile group (then the post pass never runs:
// tiles run flat over the batch, so only its last tile can be partial, and it ends its group)
// and each block's packed bits fill whole words of their own (the
// threads OR their bits into the words without atomics; 7x7 512-channel blocks of ResNet-18 at
// batch 1: 9 tiles would be 5 + 4, 8 blocks are 4 + 4).
struct WorkSplit {
  size_t ranges, chunks;
};

WorkSplit work_split(const BconvWeights& w, const BconvGeometry& geo, const Epilogue& ep,
                     size_t pixels_per_image, bool tail_in_registers, int threads) {
  const BconvMicrokernel& mk = *w.kernel;
  const size_t P = static_cast<size_t>(mk.max_pixels);
  const size_t tiles = (static_cast<size_t>(geo.n) * pixels_per_image + P - 1) / P;
  const size_t nblocks = static_cast<size_t>(w.groups) * w.blocks;
  const bool post_free =
      ep.post.run == nullptr || (tail_in_registers &&
                                 (ep.tail->bits == nullptr || mk.block % 32 == 0));
  if (ep.kind != EpilogueKind::kPacked && post_free && threads > 1 &&
      block_split_share(nblocks, threads) < largest_share(tiles, threads)) {
    return {1, std::min<size_t>(nblocks, threads)};
  }
  return {std::min<size_t>(tiles, threads), 1};
}

// The input as the micro-kernels read it: [n][xh][xw][xwords] with every window of every
// output pixel inside. Without padding and nibble split that is x itself. Otherwise a copy
// per call into the calling thread's buffer (reused): the nibble-split words
// [..][word][lo, hi] for split kernels, and with padding the input at (pad_top, pad_left) of
// an image of xh = max(pad_top + h, (ho − 1)·stride + kh) rows (xw likewise) whose other
// words are 0 — the +1 pad of mode 'one'; mode 'zero' corrects the border pixels' K
// (PadKTable). One pass, split over the threads when large (every tile may read any row, so
// it completes before the tiles start).
struct CopyJob {
  const BconvGeometry* g;
  const uint32_t* x;
  uint32_t* dst;
  int xh, words, parts, nsplit;
  size_t rows, row_words;
};

// Images of up to this many words are zeroed whole, then their input rows copied: one memset
// per call instead of three per row (small layers); larger ones zero only their padding.
constexpr size_t kZeroWholeWords = 4096;

void copy_rows(const CopyJob& j, size_t r0, size_t r1) {
  const BconvGeometry& g = *j.g;
  const size_t left = static_cast<size_t>(g.pad_left) * j.words * j.parts;
  const size_t n_in = static_cast<size_t>(g.w) * j.words;
  const size_t used = left + n_in * j.parts;
  const bool zero_whole = j.row_words * j.xh <= kZeroWholeWords;
  if (zero_whole) std::memset(j.dst + r0 * j.row_words, 0, (r1 - r0) * j.row_words * 4);
  for (size_t r = r0; r < r1; ++r) {
    uint32_t* d = j.dst + r * j.row_words;
    const int iy = static_cast<int>(r % j.xh) - g.pad_top;
    if (iy < 0 || iy >= g.h) {
      if (!zero_whole) std::memset(d, 0, j.row_words * sizeof(uint32_t));
      continue;
    }
    const uint32_t* src = j.x + (r / j.xh * g.h + iy) * n_in;
    if (!zero_whole) std::memset(d, 0, left * sizeof(uint32_t));
    if (j.parts == 1) {
      std::memcpy(d + left, src, n_in * sizeof(uint32_t));
    } else {
      for (size_t i = 0; i < n_in; ++i) {
        d[left + 2 * i] = src[i] & 0x0f0f0f0fu;
        d[left + 2 * i + 1] = (src[i] >> 4) & 0x0f0f0f0fu;
      }
    }
    if (!zero_whole) std::memset(d + used, 0, (j.row_words - used) * sizeof(uint32_t));
  }
}

// One row-triples pass split over the threads (see row_triples).
struct RowTriplesJob {
  RowTriplesFn make;
  const uint32_t* x;
  uint32_t* h;
  size_t len, step;
  int nsplit;
};

// The row triples of the input view (BconvMicrokernel::row_triples) into `buf`, when the
// micro-kernel reads them: 3-wide windows of 2 words a tap or a multiple of 4 (33-64, 97-128,
// 225-256, ... input channels), one group, every block fused. Returns TileRows::row3 (0:
// none). One pass, split over the threads.
ptrdiff_t row_triples(const BconvWeights& w, const uint32_t* x, int n, int xh, int xw,
                      int xwords, bool all_fused, AlignedVector<uint32_t>* buf,
                      ThreadPool& pool) {
  const RowTriplesFn make = w.kernel->row_triples;
  const bool words_fit = w.wg == 2 || w.wg % 4 == 0;
  if (make == nullptr || !all_fused || w.kw != 3 || !words_fit || w.groups != 1) return 0;
  const size_t step = static_cast<size_t>(xwords);
  const size_t total = static_cast<size_t>(n) * xh * xw * step;
  if (total <= 2 * step) return 0;
  const size_t len = total - 2 * step;
  if (buf->size() < len) buf->resize(len);
  uint32_t* h = buf->data();
  const int nsplit = static_cast<int>(std::min<size_t>(pool.num_threads(), len / 16384 + 1));
  if (nsplit == 1) {
    make(x, len, step, h);
  } else {
    const RowTriplesJob job{make, x, h, len, step, nsplit};
    const RowTriplesJob* j = &job;  // one pointer: std::function keeps it without allocating
    pool.parallel_for(nsplit, [j](size_t task) {
      size_t k0, k1;
      split_range(j->len, j->nsplit, static_cast<int>(task), &k0, &k1);
      j->make(j->x + k0, k1 - k0, j->step, j->h + k0);
    });
  }
  return static_cast<ptrdiff_t>(reinterpret_cast<uintptr_t>(h) -
                                reinterpret_cast<uintptr_t>(x));
}

}  // namespace

struct BconvPlan {
  const BconvWeights* w = nullptr;
  BconvGeometry geo;  // n = 1
  Epilogue ep;        // without post and tail
  int ho = 0, wo = 0;
  int xh = 0, xw = 0, parts = 1, xwords = 0;  // the input as the kernels read it
  bool copy = false;  // ... is a padded / nibble-split copy (CopyJob)
  std::vector<size_t> tap_offset;          // (ky·xw + kx)·xwords
  std::unique_ptr<PadKTable> pad_k;        // mode 'zero' with padding: every channel's K rows
  std::unique_ptr<EpilogueWriter> params;  // the epilogue's parameter rows (out: null)
  bool fused = false, all_fused = false;   // as ConvContext
};

namespace {

// The input rows the kernels read for `n` images: x itself or the thread's padded copy.
const uint32_t* input_view(const BconvPlan& pl, const uint32_t* x, int n,
                           AlignedVector<uint32_t>* buf, ThreadPool& pool) {
  if (!pl.copy) return x;
  const size_t row_words = static_cast<size_t>(pl.xw) * pl.xwords;
  const size_t rows = static_cast<size_t>(n) * pl.xh;
  if (buf->size() < rows * row_words) buf->resize(rows * row_words);
  const int nsplit =
      static_cast<int>(std::min<size_t>(pool.num_threads(), rows * row_words / 8192 + 1));
  const CopyJob job{&pl.geo, x,         buf->data(), pl.xh, pl.w->groups * pl.w->wg,
                    pl.parts, nsplit,   rows,        row_words};
  if (nsplit == 1) {
    copy_rows(job, 0, rows);
  } else {
    const CopyJob* j = &job;  // one pointer: std::function keeps it without allocating
    pool.parallel_for(static_cast<size_t>(nsplit), [j](size_t task) {
      size_t r0, r1;
      split_range(j->rows, j->nsplit, static_cast<int>(task), &r0, &r1);
      copy_rows(*j, r0, r1);
    });
  }
  return buf->data();
}

// The epilogue parameters a plan was made for (everything but post and tail).
bool same_params(const Epilogue& a, const Epilogue& b) {
  return a.kind == b.kind && a.lo == b.lo && a.hi == b.hi && a.scale == b.scale &&
         a.bias == b.bias && a.mult == b.mult && a.offset == b.offset && a.shift == b.shift &&
         a.threshold == b.threshold && a.out_groups == b.out_groups;
}

struct TilesJob {
  const ConvContext* ctx;
  size_t tiles, nblocks, ranges, chunks;
};

}  // namespace

std::shared_ptr<const BconvPlan> plan_bconv(const BconvWeights& w, const BconvGeometry& geo,
                                            const Epilogue& ep) {
  const BconvMicrokernel& mk = *w.kernel;
  if (mk.max_pixels > kMaxPixels || mk.block > kMaxBlock) {
    throw std::logic_error(std::string("bconv2d: micro-kernel tile too large: ") + mk.name);
  }
  if (geo.mode == PadMode::kValid && padded(geo)) {
    throw std::invalid_argument("bconv2d: padding mode 'valid' needs pad == 0");
  }
  if (geo.pad_top < 0 || geo.pad_left < 0 || geo.pad_bottom < 0 || geo.pad_right < 0) {
    throw std::invalid_argument("bconv2d: negative padding");
  }
  auto pl = std::make_shared<BconvPlan>();
  pl->w = &w;
  pl->geo = geo;
  pl->geo.n = 1;
  pl->ep = ep;
  pl->ep.post = EpiloguePost{};
  pl->ep.tail = nullptr;
  pl->ho = conv_out_size(geo.h, w.kh, geo.stride, geo.pad_top, geo.pad_bottom);
  pl->wo = conv_out_size(geo.w, w.kw, geo.stride, geo.pad_left, geo.pad_right);
  pl->params = std::make_unique<EpilogueWriter>(pl->ep, w.cout, nullptr);
  pl->params->int8_q64_fits = pl->params->int8_q64 != nullptr && w.kh * w.kw * w.cg <= 32767;
  if (pl->ho <= 0 || pl->wo <= 0) return pl;
  const int ho = pl->ho, wo = pl->wo;
  pl->parts = mk.split_nibbles ? 2 : 1;
  pl->xwords = w.groups * w.wg * pl->parts;
  pl->copy = padded(geo) || pl->parts != 1;
  pl->xh = pl->copy ? std::max(geo.pad_top + geo.h, (ho - 1) * geo.stride + w.kh) : geo.h;
  pl->xw = pl->copy ? std::max(geo.pad_left + geo.w, (wo - 1) * geo.stride + w.kw) : geo.w;
  for (int ky = 0; ky < w.kh; ++ky) {
    for (int kx = 0; kx < w.kw; ++kx) {
      pl->tap_offset.push_back((static_cast<size_t>(ky) * pl->xw + kx) * pl->xwords);
    }
  }
  if (geo.mode == PadMode::kZero && padded(geo)) {
    pl->pad_k = std::make_unique<PadKTable>(make_pad_k(w, geo, ho, wo, 0, w.cout));
  }
  const bool int8_slow = ep.kind == EpilogueKind::kInt8 && !pl->params->int8_fits_32;
  pl->fused = mk.run_many_finish != nullptr && !int8_slow;
  // Tiles skip their indirection rows only when every channel block finishes in registers.
  pl->all_fused = pl->fused && w.cout_g % mk.block == 0;
  return pl;
}

bool bconv_tail_in_registers(const BconvWeights& w, const Epilogue& ep) {
  if (ep.tail == nullptr || ep.kind != EpilogueKind::kInt8) return false;
  const EpilogueWriter probe(ep, w.cout, nullptr);
  return tail_fits(w, ep, probe.int8_fits_32);
}

bool bconv_tail_in_16bit_lanes(const BconvWeights& w, const Epilogue& ep) {
  if (!bconv_tail_in_registers(w, ep)) return false;
  if (w.kernel->isa != Isa::kAvx512 || w.kernel->block != 64) return false;
  const ResidualTail& t = *ep.tail;
  const int og_ch = t.bits != nullptr ? w.cout / t.pack_groups : 64;
  return tail_q64_fits(w, t, og_ch);
}

int bconv_block_chunks(const BconvWeights& w, const BconvGeometry& geo, const Epilogue& ep,
                       int threads) {
  const int ho = conv_out_size(geo.h, w.kh, geo.stride, geo.pad_top, geo.pad_bottom);
  const int wo = conv_out_size(geo.w, w.kw, geo.stride, geo.pad_left, geo.pad_right);
  if (ho <= 0 || wo <= 0 || geo.n <= 0) return 1;
  const WorkSplit split = work_split(w, geo, ep, static_cast<size_t>(ho) * wo,
                                     bconv_tail_in_registers(w, ep), threads);
  return static_cast<int>(split.chunks);
}

void bconv2d(const BconvWeights& w, const uint32_t* x, const BconvGeometry& geo,
             const Epilogue& ep, void* out, ThreadPool& pool) {
  bconv2d(*plan_bconv(w, geo, ep), x, geo.n, ep, out, pool);
}

void bconv2d(const BconvPlan& plan, const uint32_t* x, int n, const Epilogue& ep, void* out,
             ThreadPool& pool) {
  if (!same_params(plan.ep, ep)) {
    throw std::invalid_argument("bconv2d: the epilogue's parameters are not its plan's");
  }
  if (ep.post.run != nullptr && ep.kind != EpilogueKind::kInt8) {
    throw std::invalid_argument("bconv2d: a post pass needs the int8 epilogue");
  }
  if (ep.tail != nullptr && ep.post.run == nullptr) {
    throw std::invalid_argument("bconv2d: a residual tail needs its post pass (the fallback)");
  }
  const int ho = plan.ho, wo = plan.wo;
  if (ho <= 0 || wo <= 0 || n <= 0) return;
  const BconvWeights& w = *plan.w;
  const BconvMicrokernel& mk = *w.kernel;
  BconvGeometry geo = plan.geo;
  geo.n = n;
  thread_local AlignedVector<uint32_t> copy;  // the padded / split input, reused across calls
  const uint32_t* in = input_view(plan, x, n, &copy, pool);
  const size_t total = static_cast<size_t>(n) * ho * wo;
  const size_t tiles = (total + mk.max_pixels - 1) / mk.max_pixels;
  ConvContext ctx{&w,
                  &plan.geo,
                  in,
                  plan.xh,
                  plan.xw,
                  ho,
                  wo,
                  plan.xwords,
                  plan.parts,
                  total,
                  plan.tap_offset.data(),
                  plan.pad_k.get(),
                  EpilogueWriter(ep, out, *plan.params)};
  ctx.fused = plan.fused;
  ctx.all_fused = plan.all_fused;
  if (tail_fits(w, ep, ctx.writer.int8_fits_32)) {
    ctx.writer.enable_tail(ep.tail);
    ctx.writer.tail_q64 = tail_q64_fits(w, *ep.tail, ctx.writer.og_ch);
    if (ep.tail->bits != nullptr) {  // the micro-kernels OR their bits into the words
      std::memset(ep.tail->bits, 0,
                  static_cast<size_t>(n) * ho * wo * ctx.writer.tail_words * sizeof(uint32_t));
    }
  }
  thread_local AlignedVector<uint32_t> triples;  // row triples of the input view, reused
  ctx.row3 = row_triples(w, in, n, plan.xh, plan.xw, plan.xwords, ctx.all_fused, &triples, pool);
  const WorkSplit split = work_split(w, geo, ep, static_cast<size_t>(ho) * wo,
                                     ctx.writer.tail != nullptr, pool.num_threads());
  const TilesJob job{&ctx, tiles,
                     static_cast<size_t>(w.groups) * w.blocks, split.ranges, split.chunks};
  if (ep.kind == EpilogueKind::kPacked) {
    std::memset(out, 0,
                static_cast<size_t>(n) * ho * wo * epilogue_row_elems(ep, w.cout) *
                    sizeof(uint32_t));
  }
  if (job.ranges * job.chunks == 1) {
    run_tiles(ctx, 0, job.tiles, 0, job.nblocks);
  } else {
    const TilesJob* j = &job;  // one pointer: std::function keeps it without allocating
    pool.parallel_for(job.ranges * job.chunks, [j](size_t task) {
      size_t t0, t1, b0, b1;
      split_range(j->tiles, static_cast<int>(j->ranges), static_cast<int>(task / j->chunks), &t0,
                  &t1);
      split_range(j->nblocks, static_cast<int>(j->chunks), static_cast<int>(task % j->chunks),
                  &b0, &b1);
      run_tiles(*j->ctx, t0, t1, b0, b1);
    });
  }
  // As the int8 kernels' staging (kScratchKeepBytes in kernels/common/kernel_common.h): a
  // copy above 4 MiB (a large batch) is not kept for the thread's lifetime.
  constexpr size_t kCopyKeepBytes = size_t{4} << 20;
  if (copy.capacity() * sizeof(uint32_t) > kCopyKeepBytes) AlignedVector<uint32_t>().swap(copy);
  if (triples.capacity() * sizeof(uint32_t) > kCopyKeepBytes) {
    AlignedVector<uint32_t>().swap(triples);
  }
}

}  // namespace bnnflow
