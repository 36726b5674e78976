// Driver of the binary direct convolution: weight preparation, the indirection rows the
// micro-kernels read, the thread split and the fused epilogues. ISA-independent.
#include "kernels/bconv/bconv.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/bconv/bconv_isa.h"
#include "kernels/bconv/epilogue.h"

namespace bnnflow {

const BconvMicrokernel* bconv_microkernel(Isa isa, int cout_g) {
  switch (isa) {
    case Isa::kScalar:
      return scalar::bconv_microkernel(cout_g);
#if defined(__x86_64__) || defined(_M_X64)
    case Isa::kAvx2:
      return avx2::bconv_microkernel(cout_g);
    case Isa::kAvx512:
      return avx512::bconv_microkernel(cout_g);
#endif
#if defined(__aarch64__)
    case Isa::kNeon:
      return neon::bconv_microkernel(cout_g);
#endif
    default:
      break;
  }
  throw std::invalid_argument(std::string("ISA '") + isa_name(isa) +
                              "' is not compiled into this build");
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

struct ConvContext {
  const BconvWeights* w;
  const BconvGeometry* geo;
  const uint32_t* x;
  const uint32_t* zeros;
  int ho, wo, xwords, parts;   // xwords: words per input pixel as the kernel reads them
  size_t tiles_per_image;
  std::vector<size_t> tap_offset;  // (ky·W + kx)·xwords
  EpilogueWriter writer;
};

struct TileInfo {
  size_t pix0;                     // flat output pixel index of the tile's first pixel
  int p;                           // pixels in the tile
  int32_t k[kMaxPixels];           // K = taps·Cg
  const int32_t* krow[kMaxPixels]; // per-channel K of pixels with padded taps ('zero' mode)
};

// K of a padded tap in mode 'zero': kr[o] += 2·popcount(w_tap[o]) − Cg (vectorisable).
void add_pad_tap(int32_t* __restrict kr, const int32_t* __restrict tp, int cout, int cg) {
  for (int o = 0; o < cout; ++o) kr[o] += 2 * tp[o] - cg;
}

// Fills the tile's indirection rows: ptrs[tap·P + i] = input pixel of tap for pixel i, or
// the zero row for taps in the padding. In mode 'zero' a pixel with padded taps gets its own
// K per channel, in krows[i·cout ..]: (taps − npad)·Cg + 2·Σ_{padded taps} popcount(w_tap),
// so that d = K − 2·S with S summed over every tap (padded ones read zero words).
void build_tile(const ConvContext& ctx, size_t tile, const uint32_t** ptrs, int32_t* krows,
                TileInfo* info) {
  const BconvWeights& W = *ctx.w;
  const BconvGeometry& g = *ctx.geo;
  const int P = W.kernel->max_pixels, taps = W.kh * W.kw;
  const size_t n = tile / ctx.tiles_per_image;
  const int first = static_cast<int>(tile % ctx.tiles_per_image) * P;
  info->pix0 = n * ctx.ho * ctx.wo + first;
  info->p = std::min(P, ctx.ho * ctx.wo - first);
  int oy = first / ctx.wo, ox = first % ctx.wo - 1;
  for (int i = 0; i < info->p; ++i) {
    info->k[i] = taps * W.cg;
    info->krow[i] = nullptr;
    if (++ox == ctx.wo) {
      ox = 0;
      ++oy;
    }
    const int iy0 = oy * g.stride - g.pad, ix0 = ox * g.stride - g.pad;
    if (iy0 >= 0 && iy0 + W.kh <= g.h && ix0 >= 0 && ix0 + W.kw <= g.w) {
      const uint32_t* base = ctx.x + ((n * g.h + iy0) * g.w + ix0) * ctx.xwords;
      for (int t = 0; t < taps; ++t) ptrs[t * P + i] = base + ctx.tap_offset[t];
      continue;
    }
    int32_t* kr = nullptr;
    if (g.mode == PadMode::kZero) {
      kr = krows + static_cast<size_t>(i) * W.cout;
      std::fill(kr, kr + W.cout, taps * W.cg);
      info->krow[i] = kr;
    }
    for (int ky = 0; ky < W.kh; ++ky) {
      const int iy = iy0 + ky;
      for (int kx = 0; kx < W.kw; ++kx) {
        const int ix = ix0 + kx, t = ky * W.kw + kx;
        const bool inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
        ptrs[t * P + i] = inside ? ctx.x + ((n * g.h + iy) * g.w + ix) * ctx.xwords : ctx.zeros;
        if (inside || kr == nullptr) continue;
        add_pad_tap(kr, W.tap_pop.data() + static_cast<size_t>(t) * W.cout, W.cout, W.cg);
      }
    }
  }
}

// Up to kTileGroup consecutive tiles, their indirection rows and per-pixel K.
struct TileGroup {
  int count = 0;
  bool full_but_last = true;  // only an image's last tile can be partial
  TileInfo info[kTileGroup];
  // The same K values laid out [tile][max_pixels] for the fused micro-kernels.
  int32_t k_all[kTileGroup * kMaxPixels];
  const int32_t* krow_all[kTileGroup * kMaxPixels];
  size_t pix0_all[kTileGroup];
};

void build_group(const ConvContext& ctx, size_t g0, int count, const uint32_t** ptrs,
                 int32_t* krows, TileGroup* grp) {
  const BconvWeights& W = *ctx.w;
  const int P = W.kernel->max_pixels;
  const size_t per_tile = static_cast<size_t>(W.kh) * W.kw * P;
  grp->count = count;
  grp->full_but_last = true;
  for (int k = 0; k < count; ++k) {
    TileInfo& info = grp->info[k];
    build_tile(ctx, g0 + k, ptrs + k * per_tile,
               krows ? krows + static_cast<size_t>(k) * P * W.cout : nullptr, &info);
    if (k + 1 < count && info.p != P) grp->full_but_last = false;
    grp->pix0_all[k] = info.pix0;
    for (int i = 0; i < info.p; ++i) {
      grp->k_all[k * P + i] = info.k[i];
      grp->krow_all[k * P + i] = info.krow[i];
    }
  }
}

// One channel block b for every tile of the group: micro-kernel, then epilogue.
void run_block(const ConvContext& ctx, const TileGroup& grp, size_t b,
               const uint32_t* const* ptrs, int32_t* tiles, bool fused) {
  const BconvWeights& W = *ctx.w;
  const BconvMicrokernel& mk = *W.kernel;
  const int P = mk.max_pixels, CB = mk.block, taps = W.kh * W.kw;
  const size_t per_tile = static_cast<size_t>(taps) * P;
  const int g = static_cast<int>(b) / W.blocks, kb = static_cast<int>(b) % W.blocks;
  const int o0 = g * W.cout_g + kb * CB, nc = std::min(CB, W.cout_g - kb * CB);
  const int xoff = g * W.wg * ctx.parts, count = grp.count, p_last = grp.info[count - 1].p;
  const uint32_t* wb = W.data.data() + b * static_cast<size_t>(taps) * W.wg * ctx.parts * CB;
  if (fused && grp.full_but_last && nc == CB) {
    mk.run_many_finish(ptrs, taps, W.wg, xoff, wb, count, p_last, ctx.writer, grp.k_all,
                       grp.krow_all, grp.pix0_all, o0);
    return;
  }
  if (mk.run_many && grp.full_but_last) {
    mk.run_many(ptrs, taps, W.wg, xoff, wb, count, p_last, tiles);
  } else {
    for (int k = 0; k < count; ++k) {
      mk.run(ptrs + k * per_tile, taps, W.wg, xoff, wb, grp.info[k].p,
             tiles + static_cast<size_t>(k) * P * CB);
    }
  }
  const TileEpilogueFn finish = mk.finish ? mk.finish : &finish_tile_scalar;
  for (int k = 0; k < count; ++k) {
    const TileInfo& info = grp.info[k];
    finish(ctx.writer, tiles + static_cast<size_t>(k) * P * CB, CB, info.k, info.krow,
           info.pix0, info.p, o0, nc);
  }
}

// Pixel tiles [t0, t1) (flat over images), channel blocks [b0, b1): groups of kTileGroup
// tiles share one pass over each weight block, which stays in L1.
void run_tiles(const ConvContext& ctx, size_t t0, size_t t1, size_t b0, size_t b1) {
  const BconvWeights& W = *ctx.w;
  const BconvMicrokernel& mk = *W.kernel;
  const int P = mk.max_pixels;
  std::vector<const uint32_t*> ptrs(static_cast<size_t>(kTileGroup) * W.kh * W.kw * P);
  std::vector<int32_t> krows(ctx.geo->mode == PadMode::kZero && ctx.geo->pad > 0
                                 ? static_cast<size_t>(kTileGroup) * P * W.cout
                                 : 0);
  std::vector<int32_t> tiles(static_cast<size_t>(kTileGroup) * P * mk.block);
  const bool fused = mk.run_many_finish != nullptr &&
                     !(ctx.writer.ep.kind == EpilogueKind::kInt8 && !ctx.writer.int8_fits_32);
  TileGroup grp;
  for (size_t g0 = t0; g0 < t1; g0 += kTileGroup) {
    const int count = static_cast<int>(std::min<size_t>(kTileGroup, t1 - g0));
    build_group(ctx, g0, count, ptrs.data(), krows.empty() ? nullptr : krows.data(), &grp);
    for (size_t b = b0; b < b1; ++b) run_block(ctx, grp, b, ptrs.data(), tiles.data(), fused);
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

}  // namespace

void bconv2d(const BconvWeights& w, const uint32_t* x, const BconvGeometry& geo,
             const Epilogue& ep, void* out, ThreadPool& pool) {
  const BconvMicrokernel& mk = *w.kernel;
  if (mk.max_pixels > kMaxPixels || mk.block > kMaxBlock) {
    throw std::logic_error(std::string("bconv2d: micro-kernel tile too large: ") + mk.name);
  }
  if (geo.mode == PadMode::kValid && geo.pad != 0) {
    throw std::invalid_argument("bconv2d: padding mode 'valid' needs pad == 0");
  }
  const int ho = conv_out_size(geo.h, w.kh, geo.stride, geo.pad);
  const int wo = conv_out_size(geo.w, w.kw, geo.stride, geo.pad);
  if (ho <= 0 || wo <= 0 || geo.n <= 0) return;
  const int parts = mk.split_nibbles ? 2 : 1;
  const int xwords = w.groups * w.wg * parts;
  std::vector<uint32_t> zeros(xwords, 0u);
  std::unique_ptr<uint32_t[]> split;
  if (parts == 2) {
    // Nibble-split copy of the input, [pixel][word][lo, hi]: one cheap pass per call, split
    // over the threads (every tile may read any row, so it completes before the tiles start).
    const size_t words = static_cast<size_t>(geo.n) * geo.h * geo.w * w.groups * w.wg;
    split.reset(new uint32_t[2 * words]);
    const int nsplit = static_cast<int>(std::min<size_t>(pool.num_threads(), words / 4096 + 1));
    uint32_t* dst = split.get();
    pool.parallel_for(nsplit, [&](size_t task) {
      size_t i0, i1;
      split_range(words, nsplit, static_cast<int>(task), &i0, &i1);
      for (size_t i = i0; i < i1; ++i) {
        dst[2 * i] = x[i] & 0x0f0f0f0fu;
        dst[2 * i + 1] = (x[i] >> 4) & 0x0f0f0f0fu;
      }
    });
    x = split.get();
  }
  const size_t tiles_per_image =
      (static_cast<size_t>(ho) * wo + mk.max_pixels - 1) / mk.max_pixels;
  ConvContext ctx{&w, &geo, x, zeros.data(), ho, wo, xwords, parts, tiles_per_image, {},
                  EpilogueWriter(ep, w.cout, out)};
  for (int ky = 0; ky < w.kh; ++ky) {
    for (int kx = 0; kx < w.kw; ++kx) {
      ctx.tap_offset.push_back((static_cast<size_t>(ky) * geo.w + kx) * xwords);
    }
  }
  const size_t tiles = static_cast<size_t>(geo.n) * tiles_per_image;
  const size_t nblocks = static_cast<size_t>(w.groups) * w.blocks;
  const int threads = pool.num_threads();
  // Threads take contiguous ranges of pixel tiles, or of channel blocks when that gives the
  // smaller largest share (few tiles: 7x7 images, dense layers) — except for packed outputs,
  // whose words are shared between channel blocks. A block split repeats the indirection
  // tables on every thread (about kIndirectionShare of the work).
  size_t ranges = std::min<size_t>(tiles, threads), chunks = 1;
  if (ep.kind != EpilogueKind::kPacked && threads > 1 &&
      block_split_share(nblocks, threads) < largest_share(tiles, threads)) {
    ranges = 1;
    chunks = std::min<size_t>(nblocks, threads);
  }
  if (ep.kind == EpilogueKind::kPacked) {
    std::memset(out, 0,
                static_cast<size_t>(geo.n) * ho * wo * epilogue_row_elems(ep, w.cout) *
                    sizeof(uint32_t));
  }
  pool.parallel_for(ranges * chunks, [&](size_t task) {
    size_t t0, t1, b0, b1;
    split_range(tiles, static_cast<int>(ranges), static_cast<int>(task / chunks), &t0, &t1);
    split_range(nblocks, static_cast<int>(chunks), static_cast<int>(task % chunks), &b0, &b1);
    run_tiles(ctx, t0, t1, b0, b1);
  });
}

}  // namespace bnnflow
