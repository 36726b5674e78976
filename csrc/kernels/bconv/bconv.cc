// Driver of the binary direct convolution: weight preparation, the indirection rows the
// micro-kernels read, the thread split and the fused epilogues. ISA-independent.
#include "kernels/bconv/bconv.h"

#include <algorithm>
#include <cstring>
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
  p.data.assign(static_cast<size_t>(groups) * p.blocks * taps * wg * block, 0u);
  p.tap_pop.assign(static_cast<size_t>(taps) * cout, 0);
  for (int o = 0; o < cout; ++o) {
    const int grp = o / p.cout_g, oc = o % p.cout_g, kb = oc / block, c = oc % block;
    for (int t = 0; t < taps; ++t) {
      int pop = 0;
      for (int j = 0; j < wg; ++j) {
        const uint32_t word = p.raw[(static_cast<size_t>(o) * taps + t) * wg + j];
        pop += __builtin_popcount(word);
        p.data[((static_cast<size_t>(grp * p.blocks + kb) * taps + t) * wg + j) * block + c] =
            word;
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

struct RowContext {
  const BconvWeights* w;
  const BconvGeometry* geo;
  const uint32_t* x;
  const uint32_t* zeros;
  int ho, wo, xwords;
  EpilogueWriter writer;
};

// One output row (n, oy), channel blocks [b0, b1).
void run_row(const RowContext& ctx, size_t row, size_t b0, size_t b1) {
  const BconvWeights& W = *ctx.w;
  const BconvGeometry& g = *ctx.geo;
  const BconvMicrokernel& mk = *W.kernel;
  const int P = mk.max_pixels, CB = mk.block, taps = W.kh * W.kw, wg = W.wg;
  const int n = static_cast<int>(row / ctx.ho), oy = static_cast<int>(row % ctx.ho);
  std::vector<const uint32_t*> ptrs_buf(static_cast<size_t>(taps) * P);
  const uint32_t** ptrs = ptrs_buf.data();
  alignas(64) int32_t tile[kMaxPixels * kMaxBlock];
  int npad[kMaxPixels];
  for (int ox0 = 0; ox0 < ctx.wo; ox0 += P) {
    const int p = std::min(P, ctx.wo - ox0);
    for (int i = 0; i < p; ++i) {
      npad[i] = 0;
      const int ix0 = (ox0 + i) * g.stride - g.pad;
      for (int ky = 0; ky < W.kh; ++ky) {
        const int iy = oy * g.stride - g.pad + ky;
        for (int kx = 0; kx < W.kw; ++kx) {
          const int ix = ix0 + kx;
          const bool inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
          ptrs[(ky * W.kw + kx) * P + i] =
              inside ? ctx.x + ((static_cast<size_t>(n) * g.h + iy) * g.w + ix) * ctx.xwords
                     : ctx.zeros;
          npad[i] += inside ? 0 : 1;
        }
      }
    }
    const size_t pix0 = row * ctx.wo + ox0;
    for (size_t b = b0; b < b1; ++b) {
      const int grp = static_cast<int>(b) / W.blocks, kb = static_cast<int>(b) % W.blocks;
      mk.run(ptrs, taps, wg, grp * wg, W.data.data() + b * taps * wg * CB, p, tile);
      const int o0 = grp * W.cout_g + kb * CB;
      const int nc = std::min(CB, W.cout_g - kb * CB);
      for (int i = 0; i < p; ++i) {
        int32_t* t = tile + i * CB;
        if (g.mode == PadMode::kZero && npad[i] > 0) {
          // d = (taps − npad)·Cg − 2·(S − Σ_{padded taps} popcount(w_tap))
          for (int tap = 0; tap < taps; ++tap) {
            if (ptrs[tap * P + i] != ctx.zeros) continue;
            const int32_t* tp = W.tap_pop.data() + static_cast<size_t>(tap) * W.cout + o0;
            for (int c = 0; c < nc; ++c) t[c] -= tp[c];
          }
          const int32_t k = (taps - npad[i]) * W.cg;
          for (int c = 0; c < nc; ++c) t[c] = k - 2 * t[c];
        } else {
          const int32_t k = taps * W.cg;
          for (int c = 0; c < nc; ++c) t[c] = k - 2 * t[c];
        }
        ctx.writer.write(t, pix0 + i, o0, nc);
      }
    }
  }
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
  const int xwords = w.groups * w.wg;
  std::vector<uint32_t> zeros(xwords, 0u);
  RowContext ctx{&w, &geo, x, zeros.data(), ho, wo, xwords,
                 EpilogueWriter(ep, w.cout, out)};
  const size_t rows = static_cast<size_t>(geo.n) * ho;
  const size_t nblocks = static_cast<size_t>(w.groups) * w.blocks;
  const int threads = pool.num_threads();
  // Packed outputs share words between channel blocks: a task then owns whole rows.
  size_t chunks = 1;
  if (ep.kind != EpilogueKind::kPacked && threads > 1 && rows % threads != 0) {
    chunks = std::min<size_t>(nblocks, threads);
  }
  if (ep.kind == EpilogueKind::kPacked) {
    std::memset(out, 0, rows * wo * epilogue_row_elems(ep, w.cout) * sizeof(uint32_t));
  }
  pool.parallel_for(rows * chunks, [&](size_t task) {
    size_t b0, b1;
    split_range(nblocks, static_cast<int>(chunks), static_cast<int>(task % chunks), &b0, &b1);
    run_row(ctx, task / chunks, b0, b1);
  });
}

}  // namespace bnnflow
