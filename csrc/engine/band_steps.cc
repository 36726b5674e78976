#include "engine/band_steps.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "engine/buffer.h"
#include "engine/conv_int8_prep.h"
#include "kernels/dwconv_int8/dwconv_int8.h"
#include "kernels/pool/pool.h"
#include "kernels/pwl/pwl.h"
#include "kernels/requant/requant.h"

namespace bnnflow::engine {
namespace {

namespace k = ::bnnflow::glue;
using Ins = const void* const*;

// Per-band cost of a unit beyond its rows, in output rows (largest_band_share): the kernels'
// set-up per call and the halo rows a band recomputes.
constexpr std::size_t kBandOverheadRows = 1;

// Rows [lo, hi) of a tensor's H axis (one sample).
struct RowRange {
  std::ptrdiff_t lo = 0, hi = 0;
  bool empty() const { return hi <= lo; }
};

// run(x, h, pad_top, pad_bottom, y, rows): the op on a window of one sample's input, h rows
// at x that stand for the image rows with the given padding above and below them; writes
// `rows` output rows at y.
using LinkFn =
    std::function<void(const void* x, std::size_t h, int pt, int pb, void* y, std::size_t rows)>;

// One link: an op (or conv2d_int8 + requant32) and its vertical window (k, stride, padding;
// 1, 1, 0 for a per-row op).
struct Link {
  std::size_t h_in = 0, h_out = 0, in_row = 0, out_row = 0;  // rows; bytes per row
  std::ptrdiff_t k = 1, stride = 1, pad_top = 0;
  LinkFn run;

  // The first and one-past-last (padded) input row that output rows r read.
  std::ptrdiff_t first(RowRange r) const { return r.lo * stride - pad_top; }
  std::ptrdiff_t last(RowRange r) const { return (r.hi - 1) * stride - pad_top + k; }
  // Those of them inside the image.
  RowRange window(RowRange r) const {
    return {std::max<std::ptrdiff_t>(first(r), 0),
            std::min<std::ptrdiff_t>(last(r), static_cast<std::ptrdiff_t>(h_in))};
  }
  // Output rows r into y from the input rows held at x (x's first row is image row x_row0).
  void compute(const std::uint8_t* x, std::ptrdiff_t x_row0, RowRange r, std::uint8_t* y) const {
    const RowRange w = window(r);
    run(x + static_cast<std::size_t>(w.lo - x_row0) * in_row, static_cast<std::size_t>(w.hi - w.lo),
        static_cast<int>(w.lo - first(r)), static_cast<int>(last(r) - w.hi), y,
        static_cast<std::size_t>(r.hi - r.lo));
  }
};

std::size_t row_bytes(const TensorInfo& t) {
  return static_cast<std::size_t>(t.shape[2] * t.shape[3]) * act_dtype_size(t.dtype);
}

std::shared_ptr<std::vector<std::int32_t>> widen_shift(const ParamTensor& s) {
  auto out = std::make_shared<std::vector<std::int32_t>>(s.numel);
  for (std::size_t i = 0; i < s.numel; ++i) (*out)[i] = s.as<std::int8_t>()[i];
  return out;
}

// The link's shape fields from the op's tensors and its vertical window.
Link shaped(const ValidGraph& g, const ValidOp& op, int out_tensor, std::int64_t kh,
            std::int64_t stride) {
  const TensorInfo& x = g.tensors[op.inputs[0]];
  const TensorInfo& y = g.tensors[out_tensor];
  Link l;
  l.h_in = static_cast<std::size_t>(x.shape[1]);
  l.h_out = static_cast<std::size_t>(y.shape[1]);
  l.in_row = row_bytes(x);
  l.out_row = row_bytes(y);
  l.k = kh;
  l.stride = stride;
  l.pad_top = op.attrs.pad_top;  // 0 for the per-row ops
  return l;
}

// A kernel's arguments for one band: proto with the band's input rows x (h of them, one
// image) and the padding rows the band keeps at its top and bottom.
template <class Args>
Args on_band(const Args& proto, const void* x, std::size_t h, int pt, int pb) {
  Args a = proto;
  a.x = static_cast<decltype(a.x)>(x);
  a.H = h;
  a.pad_top = pt;
  a.pad_bottom = pb;
  a.N = 1;
  return a;
}

// conv2d_int8, int32 out. (Its requant32 is a link of its own: on a band in L2 that is as fast
// as the kernel's fused per-row requant, and the convolution keeps its channel-block-major
// order, which reuses the weights of a wide 1x1 convolution across the band's rows.)
Link conv_link(const ValidGraph& g, const ValidOp& op, Isa isa) {
  auto p = prepare_conv_int8(g, op, isa);
  Link l = shaped(g, op, op.output, p->proto.KH, p->proto.stride);
  l.run = [p](const void* x, std::size_t h, int pt, int pb, void* y, std::size_t) {
    k::Conv2dInt8Args a = on_band(p->proto, x, h, pt, pb);
    a.y = static_cast<std::int32_t*>(y);
    p->fn(a, p->packed.data(), nullptr);
  };
  return l;
}

// conv2d_int8 + the requant32 reading it as one link, int8 out, where the ISA's kernel
// requantises in its register tile (conv2d_int8_requant_in_tile: no int32 row at all, the
// channel-block-major order kept); otherwise false and the two stay links of their own.
bool conv_requant_link(const ValidGraph& g, const ValidOp& conv, const ValidOp& rq, Isa isa,
                       Link* out) {
  auto p = prepare_conv_int8(g, conv, isa);
  auto plan = prepare_requant32(rq);
  auto shift = widen_shift(rq.param("s"));
  k::Conv2dInt8Requant proto_rq{};
  proto_rq.M = rq.param("M").as<std::int32_t>();
  proto_rq.B = rq.param("B").as<std::int64_t>();
  proto_rq.s = shift->data();
  proto_rq.fn = BNNFLOW_GLUE_PICK(isa, requant32);
  proto_rq.prep = &plan->view();
  k::Conv2dInt8Args probe = p->proto;
  probe.rq = &proto_rq;
  if (!BNNFLOW_GLUE_PICK(isa, conv2d_int8_requant_in_tile)(probe)) return false;
  Link l = shaped(g, conv, rq.output, p->proto.KH, p->proto.stride);
  l.run = [p, plan, shift, proto_rq](const void* x, std::size_t h, int pt, int pb, void* y,
                                     std::size_t) {
    k::Conv2dInt8Requant r = proto_rq;
    r.y = static_cast<std::int8_t*>(y);
    k::Conv2dInt8Args a = on_band(p->proto, x, h, pt, pb);
    a.y = nullptr;
    a.rq = &r;
    p->fn(a, p->packed.data(), nullptr);
  };
  *out = std::move(l);
  return true;
}

// dwconv2d_int8 + the requant32 reading it as one link, int8 out, where the ISA's kernel
// requantises in its register tile (dwconv2d_int8_requant_in_tile: a prepared requant32 of the
// int32 or high32 form); otherwise false and the two stay links of their own.
bool dwconv_requant_link(const ValidGraph& g, const ValidOp& dw, const ValidOp& rq, Isa isa,
                         Link* out) {
  k::DwConv2dInt8Args proto = dwconv_int8_args(g, dw);  // H and pad top / bottom per band
  auto plan = prepare_requant32(rq);
  proto.rq = &plan->view();
  std::int8_t probe_y = 0;
  proto.y8 = &probe_y;  // set per band
  auto probe = BNNFLOW_GLUE_PICK(isa, dwconv2d_int8_requant_in_tile);
  if (!probe(proto)) return false;
  Link l = shaped(g, dw, rq.output, proto.KH, proto.stride);
  auto fn = BNNFLOW_GLUE_PICK(isa, dwconv2d_int8);
  l.run = [proto, plan, fn](const void* x, std::size_t h, int pt, int pb, void* y, std::size_t) {
    k::DwConv2dInt8Args a = on_band(proto, x, h, pt, pb);
    a.y = nullptr;
    a.y8 = static_cast<std::int8_t*>(y);
    fn(a, nullptr);
  };
  *out = std::move(l);
  return true;
}

Link dwconv_link(const ValidGraph& g, const ValidOp& op, Isa isa) {
  const k::DwConv2dInt8Args proto = dwconv_int8_args(g, op);  // H and pad top / bottom per band
  Link l = shaped(g, op, op.output, proto.KH, proto.stride);
  auto fn = BNNFLOW_GLUE_PICK(isa, dwconv2d_int8);
  l.run = [proto, fn](const void* x, std::size_t h, int pt, int pb, void* y, std::size_t) {
    k::DwConv2dInt8Args a = on_band(proto, x, h, pt, pb);
    a.y = static_cast<std::int32_t*>(y);
    fn(a, nullptr);
  };
  return l;
}

template <class Tout>
Link pool_link(const ValidGraph& g, const ValidOp& op,
               void (*fn)(const k::PoolArgs<std::int8_t, Tout>&, ThreadPool*)) {
  const TensorInfo& x = g.tensors[op.inputs[0]];
  k::PoolArgs<std::int8_t, Tout> proto{};
  proto.W = static_cast<std::size_t>(x.shape[2]);
  proto.C = static_cast<std::size_t>(x.shape[3]);
  proto.k = static_cast<int>(op.attrs.kernel);
  proto.stride = static_cast<int>(op.attrs.stride);
  proto.pad_left = static_cast<int>(op.attrs.pad_left);
  proto.pad_right = static_cast<int>(op.attrs.pad_right);
  Link l = shaped(g, op, op.output, op.attrs.kernel, op.attrs.stride);
  l.run = [proto, fn](const void* x, std::size_t h, int pt, int pb, void* y, std::size_t) {
    k::PoolArgs<std::int8_t, Tout> a = on_band(proto, x, h, pt, pb);
    a.y = static_cast<Tout*>(y);
    fn(a, nullptr);
  };
  return l;
}

// requant32 + the max pool reading it as one link on the requant32's int32 input
// (maxpool_requant32, pool.h: requant32 is monotone per channel, so the max pool of its int8
// output is the requant32 of the per-channel max, min where M < 0, of its input): one
// requantisation per pooled pixel instead of one per input pixel.
Link maxpool_requant_link(const ValidGraph& g, const ValidOp& rq, const ValidOp& pool, Isa isa) {
  const TensorInfo& x = g.tensors[rq.inputs[0]];
  k::MaxPoolRequant32Args proto{};
  proto.W = static_cast<std::size_t>(x.shape[2]);
  proto.C = static_cast<std::size_t>(x.shape[3]);
  proto.k = static_cast<int>(pool.attrs.kernel);
  proto.stride = static_cast<int>(pool.attrs.stride);
  proto.pad_left = static_cast<int>(pool.attrs.pad_left);
  proto.pad_right = static_cast<int>(pool.attrs.pad_right);
  auto plan = prepare_requant32(rq);
  auto shift = widen_shift(rq.param("s"));
  proto.rq.channels = proto.C;
  proto.rq.M = rq.param("M").as<std::int32_t>();
  proto.rq.B = rq.param("B").as<std::int64_t>();
  proto.rq.s = shift->data();
  proto.rq.prep = &plan->view();
  Link l = shaped(g, pool, pool.output, pool.attrs.kernel, pool.attrs.stride);
  l.in_row = row_bytes(x);  // int32 rows
  auto fn = BNNFLOW_GLUE_PICK(isa, maxpool_requant32);
  l.run = [proto, plan, shift, fn](const void* xb, std::size_t h, int pt, int pb, void* y,
                                   std::size_t) {
    k::MaxPoolRequant32Args a = on_band(proto, xb, h, pt, pb);
    a.y = static_cast<std::int8_t*>(y);
    fn(a, nullptr);
  };
  return l;
}

// Whether ops[i] (a requant32 with a link of its own) and ops[i + 1] (a max pool of its output)
// run as one maxpool_requant_link. A conv2d_int8 before them that requantises in its register
// tile (AVX-512, AVX2: conv_requant_link) keeps doing so: pooling its int32 rows first measured
// slower there (Bi-Real-Net-18's stem chain 0.61 -> 0.71 ms on AVX-512, 1.20 -> 1.24 on AVX2:
// the int32 band, four times the bytes, written and read through L2 costs more than the 3/4 of
// the requantisations saved; docs/performance.md). Where the convolution writes int32 rows
// anyway (scalar, NEON) the link reads them once and requantises a quarter of the pixels.
bool pool_first(const std::vector<const ValidOp*>& ops, std::size_t i) {
  return i + 1 < ops.size() && ops[i]->kind == OpKind::kRequant32 &&
         ops[i + 1]->kind == OpKind::kMaxpoolInt8 && ops[i + 1]->inputs[0] == ops[i]->output;
}

// requant32, requant, pwl: rows x W pixels of C channels.
// A per-row link's run: the kernel `fn` on `rows` image rows of `w` pixels, x of type In, the
// int8 output, per-channel shifts `shift` (kept alive by the closure).
template <class In, class Args, class Fn, class Shift>
auto row_run(const Args& proto, Fn fn, std::size_t w, const Shift& shift) {
  return [=](const void* x, std::size_t, int, int, void* y, std::size_t rows) {
    Args a = proto;
    a.x = static_cast<const In*>(x);
    a.y = static_cast<std::int8_t*>(y);
    a.rows = rows * w;
    a.s = shift->data();
    fn(a, nullptr);
  };
}

Link per_row_link(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Link l = shaped(g, op, op.output, 1, 1);
  const TensorInfo& x = g.tensors[op.inputs[0]];
  const std::size_t w = static_cast<std::size_t>(x.shape[2]);
  const std::size_t c = static_cast<std::size_t>(x.shape[3]);
  auto shift = widen_shift(op.param("s"));
  if (op.kind == OpKind::kRequant32) {
    k::Requant32Args proto{};
    proto.channels = c;
    proto.M = op.param("M").as<std::int32_t>();
    proto.B = op.param("B").as<std::int64_t>();
    auto plan = prepare_requant32(op);  // folded once; the closure keeps it alive
    proto.prep = &plan->view();
    auto run = row_run<std::int32_t>(proto, BNNFLOW_GLUE_PICK(isa, requant32), w, shift);
    l.run = [run, plan](const void* x, std::size_t h, int pt, int pb, void* y, std::size_t rows) {
      run(x, h, pt, pb, y, rows);
    };
  } else if (op.kind == OpKind::kRequant) {
    k::RequantArgs proto{};
    proto.channels = c;
    proto.M = op.param("M").as<std::int16_t>();
    proto.B = op.param("B").as<std::int32_t>();
    l.run = row_run<std::int8_t>(proto, BNNFLOW_GLUE_PICK(isa, requant), w, shift);
  } else {  // pwl
    k::PwlInt8Args proto{};
    proto.channels = c;
    proto.t = op.param("t").as<std::int32_t>();
    proto.Mp = op.param("Mp").as<std::int16_t>();
    proto.Bp = op.param("Bp").as<std::int32_t>();
    proto.Mn = op.param("Mn").as<std::int16_t>();
    proto.Bn = op.param("Bn").as<std::int32_t>();
    l.run = row_run<std::int8_t>(proto, BNNFLOW_GLUE_PICK(isa, pwl_int8), w, shift);
  }
  return l;
}

// The vertical window of a windowed op (kernel height, stride); {1, 1} for a per-row op.
std::pair<std::int64_t, std::int64_t> window_of(const ValidOp& op) {
  switch (op.kind) {
    case OpKind::kConv2dInt8:
    case OpKind::kDwconv2dInt8: return {op.param("weights").shape[1], op.attrs.stride};
    case OpKind::kMaxpoolInt8:
    case OpKind::kSumpoolInt8: return {op.attrs.kernel, op.attrs.stride};
    default: return {1, 1};
  }
}

// The links of `ops`, one per op (conv2d_int8 / dwconv2d_int8 + requant32: one, where
// conv_requant_link / dwconv_requant_link).
std::vector<Link> links_of(const ValidGraph& g, const std::vector<const ValidOp*>& ops, Isa isa) {
  std::vector<Link> links;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const ValidOp& op = *ops[i];
    switch (op.kind) {
      case OpKind::kConv2dInt8: {
        Link fused;
        if (i + 1 < ops.size() && ops[i + 1]->kind == OpKind::kRequant32 &&
            conv_requant_link(g, op, *ops[i + 1], isa, &fused)) {
          links.push_back(std::move(fused));
          ++i;  // the requant32 is in the link
        } else {
          links.push_back(conv_link(g, op, isa));
        }
        break;
      }
      case OpKind::kDwconv2dInt8: {
        Link fused;
        if (i + 1 < ops.size() && ops[i + 1]->kind == OpKind::kRequant32 &&
            dwconv_requant_link(g, op, *ops[i + 1], isa, &fused)) {
          links.push_back(std::move(fused));
          ++i;  // the requant32 is in the link
        } else {
          links.push_back(dwconv_link(g, op, isa));
        }
        break;
      }
      case OpKind::kMaxpoolInt8:
        links.push_back(pool_link(g, op, BNNFLOW_GLUE_PICK(isa, maxpool_int8)));
        break;
      case OpKind::kSumpoolInt8:
        links.push_back(pool_link(g, op, BNNFLOW_GLUE_PICK(isa, sumpool_int8)));
        break;
      case OpKind::kRequant32:
        if (pool_first(ops, i)) {
          links.push_back(maxpool_requant_link(g, op, *ops[i + 1], isa));
          ++i;  // the max pool is in the link
        } else {
          links.push_back(per_row_link(g, op, isa));
        }
        break;
      default: links.push_back(per_row_link(g, op, isa)); break;
    }
  }
  return links;
}

// What a run needs: the links, rows of the last output per band, the buffer of each link
// but the last (offset in the per-thread scratch and rows).
struct Chain {
  std::vector<Link> links;
  std::size_t band = 1;
  std::vector<std::size_t> offset, cap;
  std::size_t scratch = 0;
  // The last balanced_band result, keyed by batch and thread count (0: none): the search
  // runs once per model and (batch, threads), not on every call. See run_band.
  mutable std::atomic<std::uint64_t> last_band{0};
};

// Buffer rows of every link but the last for bands of `band` rows; returns the bytes.
std::size_t plan_buffers(Chain* c, std::size_t band) {
  const std::size_t n = c->links.size();
  c->cap.assign(n, 0);
  c->offset.assign(n, 0);
  std::size_t rows = band, bytes = 0;
  for (std::size_t i = n - 1; i > 0; --i) {
    const Link& l = c->links[i];
    rows = std::min((rows - 1) * static_cast<std::size_t>(l.stride) + static_cast<std::size_t>(l.k),
                    c->links[i - 1].h_out);
    c->cap[i - 1] = rows;
    c->offset[i - 1] = bytes;
    bytes += round_up(rows * c->links[i - 1].out_row) + kAlign;  // + slack for vector reads
  }
  return bytes;
}

void plan_bands(Chain* c, std::size_t budget) {
  const std::size_t h = c->links.back().h_out;
  std::size_t band = 1;
  while (band < h && plan_buffers(c, band + 1) <= budget) ++band;
  c->band = band;
  c->scratch = plan_buffers(c, band);
}

// Per-thread scratch, grown when a chain needs more (kept for the thread's later runs).
std::uint8_t* thread_scratch(std::size_t bytes) {
  thread_local AlignedBuffer buf;
  if (buf.size() < bytes) buf = AlignedBuffer(bytes, false);
  return buf.data();
}

// Whether a buffer holding rows `have` keeps its rows from hold.lo on for a band that needs
// rows `hold` (bands move down the image: the rows needed start within those held).
bool keeps(RowRange have, RowRange hold) {
  return !have.empty() && have.lo <= hold.lo && hold.lo <= have.hi && have.hi <= hold.hi;
}

// What a thread's buffers hold after its last piece of units: the pool may hand a thread its
// range in several pieces (threadpool.h), and a piece that starts where the thread's previous
// piece of the same call ended keeps those rows instead of recomputing the halo.
struct HeldRows {
  std::uint64_t call = 0;  // 0: none (call ids start at 1)
  std::size_t next_unit = 0, sample = 0;
  std::vector<RowRange> have, hold, comp;
};

std::uint64_t next_call_id() {
  static std::atomic<std::uint64_t> calls{0};
  return calls.fetch_add(1, std::memory_order_relaxed) + 1;
}

// Units [u0, u1) (unit = sample * bands + band) on this thread, for chain call `call`. A link's
// buffer keeps the rows it holds from one band to the next of a sample: a band computes only
// the rows it adds.
void run_units(const Chain& c, std::uint64_t call, std::size_t band, const std::uint8_t* x,
               std::uint8_t* out, std::size_t u0, std::size_t u1) {
  const std::size_t n = c.links.size(), bands = (c.links.back().h_out + band - 1) / band;
  std::uint8_t* scratch = thread_scratch(c.scratch);
  thread_local HeldRows held;
  std::vector<RowRange>&have = held.have, &hold = held.hold, &comp = held.comp;
  std::size_t sample = static_cast<std::size_t>(-1);
  if (held.call == call && held.next_unit == u0) {
    sample = held.sample;
  } else {
    have.assign(n, RowRange{});
    hold.assign(n, RowRange{});
    comp.assign(n, RowRange{});
  }
  held.call = 0;  // invalid until this piece has finished
  for (std::size_t u = u0; u < u1; ++u) {
    if (u / bands != sample) {
      sample = u / bands;
      std::fill(have.begin(), have.end(), RowRange{});
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>((u % bands) * band);
    const std::ptrdiff_t h = static_cast<std::ptrdiff_t>(c.links.back().h_out);
    comp[n - 1] = {r0, std::min(r0 + static_cast<std::ptrdiff_t>(band), h)};
    // Backward: the rows each buffer must hold and those it must compute anew.
    for (std::size_t i = n - 1; i > 0; --i) {
      RowRange& hd = hold[i - 1];
      const RowRange& hv = have[i - 1];
      if (comp[i].empty()) {
        hd = hv;
        comp[i - 1] = {};
        continue;
      }
      hd = c.links[i].window(comp[i]);
      comp[i - 1] = {keeps(hv, hd) ? hv.hi : hd.lo, hd.hi};
    }
    // Forward: drop the rows no longer needed, compute the new ones.
    for (std::size_t i = 0; i < n; ++i) {
      const Link& l = c.links[i];
      std::uint8_t* y;
      if (i + 1 < n) {
        std::uint8_t* buf = scratch + c.offset[i];
        RowRange& hv = have[i];
        if (!keeps(hv, hold[i])) {
          hv = {hold[i].lo, hold[i].lo};
        } else if (hold[i].lo > hv.lo) {
          std::memmove(buf, buf + static_cast<std::size_t>(hold[i].lo - hv.lo) * l.out_row,
                       static_cast<std::size_t>(hv.hi - hold[i].lo) * l.out_row);
          hv.lo = hold[i].lo;
        }
        if (comp[i].empty()) continue;
        y = buf + static_cast<std::size_t>(comp[i].lo - hv.lo) * l.out_row;
        hv.hi = comp[i].hi;
      } else {
        y = out + (sample * l.h_out + static_cast<std::size_t>(comp[i].lo)) * l.out_row;
      }
      if (i == 0) {
        l.compute(x + sample * l.h_in * l.in_row, 0, comp[i], y);
      } else {
        l.compute(scratch + c.offset[i - 1], have[i - 1].lo, comp[i], y);
      }
    }
  }
  held.call = call;
  held.next_unit = u1;
  held.sample = sample;
}

// balanced_band, remembered in c.last_band for the (n, threads) of the last call: bits 0-23
// the band, 24-33 threads, 34-63 n (sizes beyond those fields are not remembered).
std::size_t run_band(const Chain& c, std::size_t n, std::size_t threads) {
  const bool fits = n < (std::size_t{1} << 30) && threads < 1024 && c.band < (1u << 24);
  const std::uint64_t key = (static_cast<std::uint64_t>(n) << 34) | (threads << 24);
  if (fits) {
    const std::uint64_t v = c.last_band.load(std::memory_order_relaxed);
    if (v != 0 && (v & ~std::uint64_t{0xFFFFFF}) == key) return v & 0xFFFFFF;
  }
  const std::size_t band = balanced_band(c.links.back().h_out, c.band, n, threads);
  if (fits) c.last_band.store(key | band, std::memory_order_relaxed);
  return band;
}

}  // namespace

std::size_t largest_band_share(std::size_t h, std::size_t band, std::size_t n,
                               std::size_t threads) {
  const std::size_t bands = (h + band - 1) / band, units = n * bands;
  const std::size_t short_by = bands * band - h;  // rows the last band of a sample lacks
  const std::size_t parts = std::min(units, threads);
  std::size_t worst = 0;
  for (std::size_t t = 0; t < parts; ++t) {
    std::size_t u0, u1;
    split_range(units, static_cast<int>(parts), static_cast<int>(t), &u0, &u1);
    const std::size_t lasts = u1 / bands - u0 / bands;  // units u with u % bands == bands - 1
    worst = std::max(worst, (u1 - u0) * (band + kBandOverheadRows) - lasts * short_by);
  }
  return worst;
}

std::size_t balanced_band(std::size_t h, std::size_t planned, std::size_t n,
                          std::size_t threads) {
  if (threads <= 1) return planned;
  std::size_t best = planned, best_share = largest_band_share(h, planned, n, threads);
  for (std::size_t b = planned - 1; b >= 1; --b) {
    const std::size_t share = largest_band_share(h, b, n, threads);
    if (share < best_share) best = b, best_share = share;
  }
  return best;
}

bool is_band_op(const ValidGraph& g, const ValidOp& op) {
  switch (op.kind) {
    case OpKind::kConv2dInt8:
    case OpKind::kDwconv2dInt8:
    case OpKind::kMaxpoolInt8:
    case OpKind::kSumpoolInt8:
    case OpKind::kRequant32:
    case OpKind::kRequant:
    case OpKind::kPwl: break;
    default: return false;
  }
  const TensorInfo& x = g.tensors[op.inputs[0]];
  const TensorInfo& y = g.tensors[op.output];
  if (x.shape.size() != 4 || y.shape.size() != 4 || y.shape[1] < 1) return false;
  const auto [kh, stride] = window_of(op);
  Link l;
  l.h_in = static_cast<std::size_t>(x.shape[1]);
  l.k = kh;
  l.stride = stride;
  l.pad_top = op.attrs.pad_top;
  const std::ptrdiff_t ho = y.shape[1];
  return !l.window({0, 1}).empty() && !l.window({ho - 1, ho}).empty();
}

Step make_band_chain_step(const ValidGraph& g, const std::vector<const ValidOp*>& ops, Isa isa,
                          std::size_t band_bytes) {
  Step s;
  s.inputs = {ops.front()->inputs[0]};
  s.output = ops.back()->output;
  for (const ValidOp* op : ops) {
    s.ops.push_back(op->index);
    s.type += (s.type.empty() ? "" : "+") + std::string(op_type_name(op->kind));
  }
  auto c = std::make_shared<Chain>();
  c->links = links_of(g, ops, isa);
  plan_bands(c.get(), band_bytes);
  s.run = [c](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    const std::size_t band = run_band(*c, n, static_cast<std::size_t>(pool.num_threads()));
    const std::size_t bands = (c->links.back().h_out + band - 1) / band;
    struct Ctx {
      const Chain* chain;
      std::uint64_t call;
      std::size_t band;
      const std::uint8_t* x;
      std::uint8_t* out;
    } ctx{c.get(), next_call_id(), band, static_cast<const std::uint8_t*>(ins[0]),
          static_cast<std::uint8_t*>(out)};
    run_ranges(&pool, n * bands,
               [](const void* p, std::size_t u0, std::size_t u1) {
                 const Ctx& q = *static_cast<const Ctx*>(p);
                 run_units(*q.chain, q.call, q.band, q.x, q.out, u0, u1);
               },
               &ctx);
  };
  return s;
}

}  // namespace bnnflow::engine
