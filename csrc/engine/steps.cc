#include "engine/steps.h"

#include <cstring>
#include <stdexcept>

#include "engine/buffer.h"
#include "engine/conv_int8_prep.h"
#include "engine/error.h"
#include "kernels/add/add.h"
#include "kernels/add/residual.h"
#include "kernels/bconv/bconv.h"
#include "kernels/bdense/bdense.h"
#include "kernels/channel_shuffle/channel_shuffle.h"
#include "kernels/concat/concat.h"
#include "kernels/conv_int8/conv_int8.h"
#include "kernels/dense_int8/dense_int8.h"
#include "kernels/dwconv_int8/dwconv_int8.h"
#include "kernels/gate/gate.h"
#include "kernels/glue_f32/glue_f32.h"
#include "kernels/maxpool_packed/maxpool_packed.h"
#include "kernels/pack/pack.h"
#include "kernels/pool/pool.h"
#include "kernels/pwl/pwl.h"
#include "kernels/requant/requant.h"

namespace bnnflow::engine {

namespace {

namespace k = ::bnnflow::glue;

using Ins = const void* const*;

template <class T>
const T* in(Ins ins, int i) {
  return static_cast<const T*>(ins[i]);
}

// The int8 shifts of the file widened to the int32 the kernels take (kept alive by the step).
std::shared_ptr<std::vector<std::int32_t>> widen_shift(const ParamTensor& s) {
  auto out = std::make_shared<std::vector<std::int32_t>>(s.numel);
  for (std::size_t i = 0; i < s.numel; ++i) (*out)[i] = s.as<std::int8_t>()[i];
  return out;
}

Step base(const ValidGraph& g, const ValidOp& op) {
  Step s;
  s.inputs = op.inputs;
  s.output = op.output;
  s.ops = {op.index};
  s.type = op_type_name(op.kind);
  (void)g;
  return s;
}

// The epilogue of bconv / bdense from attrs and params (docs/numerics.md §4).
Epilogue make_epilogue(const ValidOp& op, std::shared_ptr<std::vector<std::int32_t>>* shift) {
  Epilogue ep;
  const OpAttrs& a = op.attrs;
  if (a.clamp_lo) ep.lo = static_cast<std::int32_t>(*a.clamp_lo);
  if (a.clamp_hi) ep.hi = static_cast<std::int32_t>(*a.clamp_hi);
  if (a.epilogue == "int32") {
    ep.kind = EpilogueKind::kInt32;
  } else if (a.epilogue == "float") {
    ep.kind = EpilogueKind::kFloat;
    ep.scale = op.param("scale").as<float>();
    ep.bias = op.param("bias").as<float>();
  } else if (a.epilogue == "int8") {
    ep.kind = EpilogueKind::kInt8;
    ep.mult = op.param("M").as<std::int16_t>();
    ep.offset = op.param("B").as<std::int32_t>();
    *shift = widen_shift(op.param("s"));
    ep.shift = (*shift)->data();
  } else {
    ep.kind = EpilogueKind::kPacked;
    ep.threshold = op.param("T").as<std::int32_t>();
    ep.out_groups = static_cast<int>(a.out_groups);
  }
  return ep;
}

// The op's padding per side into a kernel's args / geometry (pad_top .. pad_right fields).
template <class Args>
void set_pads(const OpAttrs& attrs, Args* a) {
  a->pad_top = static_cast<int>(attrs.pad_top);
  a->pad_left = static_cast<int>(attrs.pad_left);
  a->pad_bottom = static_cast<int>(attrs.pad_bottom);
  a->pad_right = static_cast<int>(attrs.pad_right);
}

PadMode pad_mode(const std::string& m) {
  return m == "one" ? PadMode::kOne : m == "valid" ? PadMode::kValid : PadMode::kZero;
}

Step pack_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const TensorInfo& x = g.tensors[op.inputs[0]];
  const std::size_t pixels = static_cast<std::size_t>(x.rows_per_sample());
  const int c = static_cast<int>(x.shape.back()), groups = static_cast<int>(op.attrs.groups);
  const ParamTensor& t = op.param("t");
  (void)pack_kernels(isa);  // fails now, not at run time, when the ISA is not built
  if (x.dtype == ActDType::kInt8) {
    const std::int32_t* tp = t.as<std::int32_t>();
    s.run = [=](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
      pack_int8(in<std::int8_t>(ins, 0), tp, pixels * n, c, groups,
                static_cast<std::uint32_t*>(out), isa, pool);
    };
  } else {
    const float* tp = t.as<float>();
    s.run = [=](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
      pack_f32(in<float>(ins, 0), tp, pixels * n, c, groups, static_cast<std::uint32_t*>(out),
               isa, pool);
    };
  }
  return s;
}

// bconv2d's weights prepared for the ISA, its epilogue and geometry (batch set per call),
// and the plan of its calls (BconvPlan: output size, padded input, K rows, epilogue rows).
struct PreparedBconv {
  std::shared_ptr<BconvWeights> weights;
  std::shared_ptr<std::vector<std::int32_t>> shift;  // keeps ep.shift alive
  Epilogue ep;
  BconvGeometry geo;
  std::shared_ptr<const BconvPlan> plan;  // points into weights and ep's arrays
};

PreparedBconv prepare_bconv(const ValidGraph& g, const ValidOp& op, Isa isa) {
  const TensorInfo& x = g.tensors[op.inputs[0]];
  const ParamTensor& w = op.param("weights");
  PreparedBconv p;
  p.weights = std::make_shared<BconvWeights>(prepare_bconv_weights(
      w.as<std::uint32_t>(), static_cast<int>(w.shape[0]), static_cast<int>(w.shape[1]),
      static_cast<int>(w.shape[2]), static_cast<int>(x.channels),
      static_cast<int>(op.attrs.groups), isa));
  p.ep = make_epilogue(op, &p.shift);
  p.geo.h = static_cast<int>(x.shape[1]);
  p.geo.w = static_cast<int>(x.shape[2]);
  p.geo.stride = static_cast<int>(op.attrs.stride);
  set_pads(op.attrs, &p.geo);
  p.geo.mode = pad_mode(op.attrs.pad_mode);
  p.plan = plan_bconv(*p.weights, p.geo, p.ep);
  return p;
}

Step bconv_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  auto p = std::make_shared<const PreparedBconv>(prepare_bconv(g, op, isa));
  s.prepared = p;
  s.run = [p](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    bconv2d(*p->plan, in<std::uint32_t>(ins, 0), static_cast<int>(n), p->ep, out, pool);
  };
  return s;
}

Step bdense_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const TensorInfo& x = g.tensors[op.inputs[0]];
  const ParamTensor& w = op.param("weights");
  auto weights = std::make_shared<BconvWeights>(prepare_bdense_weights(
      w.as<std::uint32_t>(), static_cast<int>(w.shape[0]), static_cast<int>(x.channels), isa));
  std::shared_ptr<std::vector<std::int32_t>> shift;
  const Epilogue ep = make_epilogue(op, &shift);
  std::shared_ptr<const BconvPlan> plan = plan_bdense(*weights, ep);  // points into both
  s.run = [weights, shift, ep, plan](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    bdense(*plan, in<std::uint32_t>(ins, 0), static_cast<int>(n), ep, out, pool);
  };
  return s;
}

Step maxpool_packed_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const TensorInfo& x = g.tensors[op.inputs[0]];
  (void)maxpool_packed_kernel(isa);
  PoolGeometry geo;
  geo.h = static_cast<int>(x.shape[1]);
  geo.w = static_cast<int>(x.shape[2]);
  geo.words = static_cast<int>(x.shape[3]);
  geo.kh = geo.kw = static_cast<int>(op.attrs.kernel);
  geo.stride = static_cast<int>(op.attrs.stride);
  set_pads(op.attrs, &geo);
  s.run = [geo, isa](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    PoolGeometry gn = geo;
    gn.n = static_cast<int>(n);
    maxpool_packed(in<std::uint32_t>(ins, 0), gn, static_cast<std::uint32_t*>(out), isa, pool);
  };
  return s;
}

// Per-channel elementwise ops: rows = batch * rows per sample, channels = last dim.
struct Rows {
  std::size_t rows, channels;
};
Rows rows_of(const TensorInfo& x) {
  return {static_cast<std::size_t>(x.rows_per_sample()), static_cast<std::size_t>(x.shape.back())};
}

Step requant_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const Rows r = rows_of(g.tensors[op.inputs[0]]);
  auto shift = widen_shift(op.param("s"));
  const std::int16_t* M = op.param("M").as<std::int16_t>();
  const std::int32_t* B = op.param("B").as<std::int32_t>();
  auto fn = BNNFLOW_GLUE_PICK(isa, requant);
  s.run = [=](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::RequantArgs a{};
    a.x = in<std::int8_t>(ins, 0);
    a.y = static_cast<std::int8_t*>(out);
    a.rows = r.rows * n;
    a.channels = r.channels;
    a.M = M;
    a.B = B;
    a.s = shift->data();
    fn(a, &pool);
  };
  return s;
}

Step requant32_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const Rows r = rows_of(g.tensors[op.inputs[0]]);
  auto shift = widen_shift(op.param("s"));
  const std::int32_t* M = op.param("M").as<std::int32_t>();
  const std::int64_t* B = op.param("B").as<std::int64_t>();
  auto fn = BNNFLOW_GLUE_PICK(isa, requant32);
  auto plan = prepare_requant32(op);
  s.run = [=](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::Requant32Args a{};
    a.x = in<std::int32_t>(ins, 0);
    a.y = static_cast<std::int8_t*>(out);
    a.rows = r.rows * n;
    a.channels = r.channels;
    a.M = M;
    a.B = B;
    a.s = shift->data();
    a.prep = &plan->view();
    fn(a, &pool);
  };
  return s;
}

Step add_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const Rows r = rows_of(g.tensors[op.inputs[0]]);
  auto shift = widen_shift(op.param("s"));
  const std::int16_t* Ma = op.param("Ma").as<std::int16_t>();
  const std::int16_t* Mb = op.param("Mb").as<std::int16_t>();
  const std::int32_t* B = op.param("B").as<std::int32_t>();
  auto fn = BNNFLOW_GLUE_PICK(isa, add_int8);
  s.run = [=](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::AddInt8Args a{};
    a.a = in<std::int8_t>(ins, 0);
    a.b = in<std::int8_t>(ins, 1);
    a.y = static_cast<std::int8_t*>(out);
    a.rows = r.rows * n;
    a.channels = r.channels;
    a.Ma = Ma;
    a.Mb = Mb;
    a.B = B;
    a.s = shift->data();
    fn(a, &pool);
  };
  return s;
}

Step pwl_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const Rows r = rows_of(g.tensors[op.inputs[0]]);
  auto shift = widen_shift(op.param("s"));
  const std::int32_t* t = op.param("t").as<std::int32_t>();
  const std::int16_t* Mp = op.param("Mp").as<std::int16_t>();
  const std::int32_t* Bp = op.param("Bp").as<std::int32_t>();
  const std::int16_t* Mn = op.param("Mn").as<std::int16_t>();
  const std::int32_t* Bn = op.param("Bn").as<std::int32_t>();
  auto fn = BNNFLOW_GLUE_PICK(isa, pwl_int8);
  s.run = [=](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::PwlInt8Args a{};
    a.x = in<std::int8_t>(ins, 0);
    a.y = static_cast<std::int8_t*>(out);
    a.rows = r.rows * n;
    a.channels = r.channels;
    a.t = t;
    a.Mp = Mp;
    a.Bp = Bp;
    a.Mn = Mn;
    a.Bn = Bn;
    a.s = shift->data();
    fn(a, &pool);
  };
  return s;
}

template <class Tin, class Tout>
Step pool_step(const ValidGraph& g, const ValidOp& op,
               void (*fn)(const k::PoolArgs<Tin, Tout>&, ThreadPool*)) {
  Step s = base(g, op);
  const TensorInfo& x = g.tensors[op.inputs[0]];
  k::PoolArgs<Tin, Tout> proto{};
  proto.H = static_cast<std::size_t>(x.shape[1]);
  proto.W = static_cast<std::size_t>(x.shape[2]);
  proto.C = static_cast<std::size_t>(x.shape[3]);
  proto.k = static_cast<int>(op.attrs.kernel);
  proto.stride = static_cast<int>(op.attrs.stride);
  set_pads(op.attrs, &proto);
  s.run = [proto, fn](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::PoolArgs<Tin, Tout> a = proto;
    a.x = in<Tin>(ins, 0);
    a.y = static_cast<Tout*>(out);
    a.N = n;
    fn(a, &pool);
  };
  return s;
}

template <class Tin, class Tout>
Step global_pool_step(const ValidGraph& g, const ValidOp& op,
                      void (*fn)(const k::GlobalPoolArgs<Tin, Tout>&, ThreadPool*)) {
  Step s = base(g, op);
  const TensorInfo& x = g.tensors[op.inputs[0]];
  const std::size_t hw = static_cast<std::size_t>(x.shape[1] * x.shape[2]);
  const std::size_t c = static_cast<std::size_t>(x.shape[3]);
  s.run = [hw, c, fn](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::GlobalPoolArgs<Tin, Tout> a{};
    a.x = in<Tin>(ins, 0);
    a.y = static_cast<Tout*>(out);
    a.N = n;
    a.HW = hw;
    a.C = c;
    fn(a, &pool);
  };
  return s;
}

Step conv_int8_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  auto p = prepare_conv_int8(g, op, isa);
  s.run = [p](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::Conv2dInt8Args a = p->proto;
    a.x = ins[0];
    a.y = static_cast<std::int32_t*>(out);
    a.N = n;
    p->fn(a, p->packed.data(), &pool);
  };
  return s;
}

Step dwconv_int8_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const k::DwConv2dInt8Args proto = dwconv_int8_args(g, op);
  auto fn = BNNFLOW_GLUE_PICK(isa, dwconv2d_int8);
  s.run = [proto, fn](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::DwConv2dInt8Args a = proto;
    a.x = ins[0];
    a.y = static_cast<std::int32_t*>(out);
    a.N = n;
    fn(a, &pool);
  };
  return s;
}

Step dense_int8_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const ParamTensor& w = op.param("weights");
  const std::int8_t* wp = w.as<std::int8_t>();
  const std::int32_t* bias = op.param("bias").as<std::int32_t>();
  const std::size_t cout = static_cast<std::size_t>(w.shape[0]);
  const std::size_t cin = static_cast<std::size_t>(w.shape[1]);
  auto fn = BNNFLOW_GLUE_PICK(isa, dense_int8);
  s.run = [=](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::DenseInt8Args a{};
    a.x = in<std::int8_t>(ins, 0);
    a.w = wp;
    a.bias = bias;
    a.y = static_cast<std::int32_t*>(out);
    a.N = n;
    a.Cin = cin;
    a.Cout = cout;
    fn(a, &pool);
  };
  return s;
}

Step concat_step(const ValidGraph& g, const ValidOp& op) {
  Step s = base(g, op);
  const TensorInfo& x = g.tensors[op.inputs[0]];
  auto widths = std::make_shared<std::vector<std::size_t>>();
  for (int t : op.inputs) widths->push_back(static_cast<std::size_t>(g.tensors[t].shape.back()));
  const std::size_t rows = static_cast<std::size_t>(x.rows_per_sample());
  const std::size_t elem = act_dtype_size(x.dtype);
  s.run = [widths, rows, elem](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::ConcatArgs a{};
    a.xs = ins;
    a.widths = widths->data();
    a.count = widths->size();
    a.y = out;
    a.rows = rows * n;
    a.elem_size = elem;
    k::concat(a, &pool);
  };
  return s;
}

Step channel_shuffle_step(const ValidGraph& g, const ValidOp& op) {
  Step s = base(g, op);
  const TensorInfo& x = g.tensors[op.inputs[0]];
  const std::size_t rows = static_cast<std::size_t>(x.rows_per_sample());
  const std::size_t c = static_cast<std::size_t>(x.shape.back());
  const std::size_t groups = static_cast<std::size_t>(op.attrs.groups);
  const std::size_t elem = act_dtype_size(x.dtype);
  s.run = [rows, c, groups, elem](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::channel_shuffle({ins[0], out, rows * n, c, groups, elem}, &pool);
  };
  return s;
}

Step dequant_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const Rows r = rows_of(g.tensors[op.inputs[0]]);
  const float* scale = op.param("scale").as<float>();
  const float* bias = op.param("bias").as<float>();
  auto fn = BNNFLOW_GLUE_PICK(isa, dequant);
  s.run = [=](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::DequantArgs a{};
    a.x = in<std::int32_t>(ins, 0);
    a.y = static_cast<float*>(out);
    a.rows = r.rows * n;
    a.channels = r.channels;
    a.scale = scale;
    a.bias = bias;
    fn(a, &pool);
  };
  return s;
}

Step scale_bias_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const Rows r = rows_of(g.tensors[op.inputs[0]]);
  const float* scale = op.param("scale").as<float>();
  const float* bias = op.param("bias").as<float>();
  auto fn = BNNFLOW_GLUE_PICK(isa, scale_bias);
  s.run = [=](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::ScaleBiasArgs a{};
    a.x = in<float>(ins, 0);
    a.y = static_cast<float*>(out);
    a.rows = r.rows * n;
    a.channels = r.channels;
    a.a = scale;
    a.b = bias;
    fn(a, &pool);
  };
  return s;
}

Step add_f32_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const std::size_t per = static_cast<std::size_t>(g.tensors[op.inputs[0]].sample_elements());
  auto fn = BNNFLOW_GLUE_PICK(isa, add_f32);
  s.run = [=](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::AddF32Args a{};
    a.a = in<float>(ins, 0);
    a.b = in<float>(ins, 1);
    a.y = static_cast<float*>(out);
    a.size = per * n;
    fn(a, &pool);
  };
  return s;
}

Step sigmoid_f32_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const std::size_t per = static_cast<std::size_t>(g.tensors[op.inputs[0]].sample_elements());
  auto fn = BNNFLOW_GLUE_PICK(isa, sigmoid_f32);
  s.run = [=](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    fn({in<float>(ins, 0), static_cast<float*>(out), per * n}, &pool);
  };
  return s;
}

// b is a's shape (b_every = 1) or [N, C] against an [N, H, W, C] a (b_every = H*W).
Step mul_f32_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const Rows r = rows_of(g.tensors[op.inputs[0]]);
  const TensorInfo& b = g.tensors[op.inputs[1]];
  const std::size_t every = b.shape.size() == g.tensors[op.inputs[0]].shape.size() ? 1 : r.rows;
  auto fn = BNNFLOW_GLUE_PICK(isa, mul_f32);
  s.run = [=](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    fn({in<float>(ins, 0), in<float>(ins, 1), static_cast<float*>(out), r.rows * n, r.channels,
        every},
       &pool);
  };
  return s;
}

Step pwl_f32_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const Rows r = rows_of(g.tensors[op.inputs[0]]);
  const float* t = op.param("t").as<float>();
  const float* kp = op.param("kp").as<float>();
  const float* bp = op.param("bp").as<float>();
  const float* kn = op.param("kn").as<float>();
  const float* bn = op.param("bn").as<float>();
  auto fn = BNNFLOW_GLUE_PICK(isa, pwl_f32);
  s.run = [=](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::PwlF32Args a{};
    a.x = in<float>(ins, 0);
    a.y = static_cast<float*>(out);
    a.rows = r.rows * n;
    a.channels = r.channels;
    a.t = t;
    a.kp = kp;
    a.bp = bp;
    a.kn = kn;
    a.bn = bn;
    fn(a, &pool);
  };
  return s;
}

struct PreparedConvF32 {
  k::Conv2dF32Args proto{};
  AlignedBuffer packed;
  decltype(&k::scalar::conv2d_f32_packed) fn = nullptr;
};

Step conv_f32_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const TensorInfo& x = g.tensors[op.inputs[0]];
  const ParamTensor& w = op.param("weights");
  auto p = std::make_shared<PreparedConvF32>();
  k::Conv2dF32Args& a = p->proto;
  a.w = w.as<float>();
  a.bias = op.param("bias").as<float>();
  set_conv_geometry(x, w, op.attrs, &a);
  auto bytes = BNNFLOW_GLUE_PICK(isa, conv2d_f32_packed_bytes);
  auto pack = BNNFLOW_GLUE_PICK(isa, conv2d_f32_pack);
  p->fn = BNNFLOW_GLUE_PICK(isa, conv2d_f32_packed);
  p->packed = AlignedBuffer(bytes(a));
  pack(a, p->packed.data());
  s.run = [p](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::Conv2dF32Args args = p->proto;
    args.x = in<float>(ins, 0);
    args.y = static_cast<float*>(out);
    args.N = n;
    p->fn(args, p->packed.data(), &pool);
  };
  return s;
}

Step dense_f32_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s = base(g, op);
  const ParamTensor& w = op.param("weights");
  const float* wp = w.as<float>();
  const float* bias = op.param("bias").as<float>();
  const std::size_t cout = static_cast<std::size_t>(w.shape[0]);
  const std::size_t cin = static_cast<std::size_t>(w.shape[1]);
  auto fn = BNNFLOW_GLUE_PICK(isa, dense_f32);
  s.run = [=](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::DenseF32Args a{};
    a.x = in<float>(ins, 0);
    a.w = wp;
    a.bias = bias;
    a.y = static_cast<float*>(out);
    a.N = n;
    a.Cin = cin;
    a.Cout = cout;
    fn(a, &pool);
  };
  return s;
}

// flatten is a layout change only: NHWC data already is [N, H*W*C]; copied (no aliasing).
Step flatten_step(const ValidGraph& g, const ValidOp& op) {
  Step s = base(g, op);
  const std::size_t bytes = g.tensors[op.inputs[0]].sample_bytes();
  s.run = [bytes](Ins ins, void* out, std::size_t n, ThreadPool&) {
    std::memcpy(out, ins[0], bytes * n);
  };
  return s;
}

Step make_step_impl(const ValidGraph& g, const ValidOp& op, Isa isa) {
  switch (op.kind) {
    case OpKind::kPack: return pack_step(g, op, isa);
    case OpKind::kBconv: return bconv_step(g, op, isa);
    case OpKind::kBdense: return bdense_step(g, op, isa);
    case OpKind::kMaxpoolPacked: return maxpool_packed_step(g, op, isa);
    case OpKind::kRequant: return requant_step(g, op, isa);
    case OpKind::kRequant32: return requant32_step(g, op, isa);
    case OpKind::kAdd: return add_step(g, op, isa);
    case OpKind::kPwl: return pwl_step(g, op, isa);
    case OpKind::kMaxpoolInt8: return pool_step(g, op, BNNFLOW_GLUE_PICK(isa, maxpool_int8));
    case OpKind::kSumpoolInt8: return pool_step(g, op, BNNFLOW_GLUE_PICK(isa, sumpool_int8));
    case OpKind::kGlobalSumpoolInt8:
      return global_pool_step(g, op, BNNFLOW_GLUE_PICK(isa, global_sumpool_int8));
    case OpKind::kConv2dInt8: return conv_int8_step(g, op, isa);
    case OpKind::kDwconv2dInt8: return dwconv_int8_step(g, op, isa);
    case OpKind::kDenseInt8: return dense_int8_step(g, op, isa);
    case OpKind::kConcat: return concat_step(g, op);
    case OpKind::kChannelShuffle: return channel_shuffle_step(g, op);
    case OpKind::kDequant: return dequant_step(g, op, isa);
    case OpKind::kScaleBias: return scale_bias_step(g, op, isa);
    case OpKind::kAddF32: return add_f32_step(g, op, isa);
    case OpKind::kPwlF32: return pwl_f32_step(g, op, isa);
    case OpKind::kSigmoidF32: return sigmoid_f32_step(g, op, isa);
    case OpKind::kMulF32: return mul_f32_step(g, op, isa);
    case OpKind::kConv2dF32: return conv_f32_step(g, op, isa);
    case OpKind::kDenseF32: return dense_f32_step(g, op, isa);
    case OpKind::kMaxpoolF32: return pool_step(g, op, BNNFLOW_GLUE_PICK(isa, maxpool_f32));
    case OpKind::kAvgpoolF32: return pool_step(g, op, BNNFLOW_GLUE_PICK(isa, avgpool_f32));
    case OpKind::kGlobalAvgpoolF32:
      return global_pool_step(g, op, BNNFLOW_GLUE_PICK(isa, global_avgpool_f32));
    case OpKind::kFlatten: return flatten_step(g, op);
  }
  throw std::logic_error("unhandled op kind");
}

// A kernel's refusal (no kernel for the ISA, unsupported geometry) as the engine's
// kUnsupported error naming the op.
Error unsupported(const ValidOp& op, const std::invalid_argument& e) {
  return Error(ErrorKind::kUnsupported,
               "op #" + std::to_string(op.index) + " (" + op_type_name(op.kind) + "): " + e.what());
}

// The residual tail's parameters folded once (residual.h), owned by the step.
struct FoldedResidual {
  std::vector<std::int32_t> my, mr, pairs, br, s, t, mp, bp, mn, bn, ps;
  k::ResidualParams p;
  decltype(&k::scalar::residual_rows) rows = nullptr;
  const PackKernels* pack = nullptr;  // with a fused pack
  const std::int32_t* pack_t = nullptr;
  int channels = 0, pack_groups = 1;
  AlignedVector<std::int32_t> tail_table;  // make_tail_table with the bconv's int8 epilogue
};

// A parameter of the validated dtype T (docs/format.md) widened to int32.
template <class T>
std::vector<std::int32_t> to_i32(const ParamTensor& p) {
  std::vector<std::int32_t> out(p.numel);
  for (std::size_t i = 0; i < p.numel; ++i) out[i] = p.as<T>()[i];
  return out;
}

// b + 2^(s-1) (s > 0), wrapping as the kernels' int32 lanes do.
std::vector<std::int32_t> plus_round(std::vector<std::int32_t> b,
                                     const std::vector<std::int32_t>& s) {
  for (std::size_t c = 0; c < b.size(); ++c) b[c] = k::wadd32(b[c], k::round_term32(s[c]));
  return b;
}

std::shared_ptr<FoldedResidual> fold_residual(const ResidualChain& chain, Isa isa) {
  auto f = std::make_shared<FoldedResidual>();
  const ValidOp& add = *chain.add;
  const bool conv_first = add.inputs[0] == chain.bconv->output;
  f->my = to_i32<std::int16_t>(add.param(conv_first ? "Ma" : "Mb"));
  f->mr = to_i32<std::int16_t>(add.param(conv_first ? "Mb" : "Ma"));
  f->s = to_i32<std::int8_t>(add.param("s"));
  f->br = plus_round(to_i32<std::int32_t>(add.param("B")), f->s);
  f->channels = static_cast<int>(f->my.size());
  f->pairs.resize(f->my.size());
  for (std::size_t c = 0; c < f->my.size(); ++c) {  // int16 (My, Mr) as one int32
    f->pairs[c] = static_cast<std::int32_t>(static_cast<std::uint16_t>(f->my[c]) |
                                            (static_cast<std::uint32_t>(
                                                 static_cast<std::uint16_t>(f->mr[c]))
                                             << 16));
  }
  k::ResidualParams& p = f->p;
  p.channels = f->my.size();
  p.my = f->my.data();
  p.mr = f->mr.data();
  p.pairs = f->pairs.data();
  p.br = f->br.data();
  p.s = f->s.data();
  if (chain.pwl != nullptr) {
    const ValidOp& pwl = *chain.pwl;
    f->t = to_i32<std::int32_t>(pwl.param("t"));
    f->mp = to_i32<std::int16_t>(pwl.param("Mp"));
    f->mn = to_i32<std::int16_t>(pwl.param("Mn"));
    f->ps = to_i32<std::int8_t>(pwl.param("s"));
    f->bp = plus_round(to_i32<std::int32_t>(pwl.param("Bp")), f->ps);
    f->bn = plus_round(to_i32<std::int32_t>(pwl.param("Bn")), f->ps);
    p.pwl = true;
    p.t = f->t.data();
    p.mp = f->mp.data();
    p.bp = f->bp.data();
    p.mn = f->mn.data();
    p.bn = f->bn.data();
    p.ps = f->ps.data();
  }
  f->rows = BNNFLOW_GLUE_PICK(isa, residual_rows);
  if (chain.pack != nullptr) {
    f->pack = &pack_kernels(isa);
    f->pack_t = chain.pack->param("t").as<std::int32_t>();
    f->pack_groups = static_cast<int>(chain.pack->attrs.groups);
  }
  return f;
}

// The tail the bconv finishes in registers where it can (ResidualTail, bconv.h); residual_post
// is its fallback and scalar twin.
ResidualTail register_tail(const FoldedResidual& f, const std::int8_t* residual,
                           std::uint32_t* bits) {
  ResidualTail t;
  t.r = residual;
  t.my = f.my.data();
  t.mr = f.mr.data();
  t.pairs = f.pairs.data();
  t.br = f.br.data();
  t.s = f.s.data();
  t.pwl = f.p.pwl;
  if (t.pwl) {
    t.t = f.t.data();
    t.mp = f.mp.data();
    t.mn = f.mn.data();
    t.bp = f.bp.data();
    t.bn = f.bn.data();
    t.ps = f.ps.data();
  }
  if (f.pack != nullptr) {
    t.bits = bits;
    t.pack_t = f.pack_t;
    t.pack_groups = f.pack_groups;
  }
  if (!f.tail_table.empty()) t.table = f.tail_table.data();
  return t;
}

// One call's post pass (EpiloguePost): the residual tail, then the pack, on rows [p0, p1).
struct ResidualCall {
  const FoldedResidual* f;
  const std::int8_t* residual;
  std::uint32_t* bits;  // the pack's output, or null
};

void residual_post(const void* ctx, void* out, std::size_t p0, std::size_t p1) {
  const ResidualCall& c = *static_cast<const ResidualCall*>(ctx);
  std::int8_t* y = static_cast<std::int8_t*>(out);
  k::ResidualArgs a{};
  a.p = &c.f->p;
  a.y = y;
  a.r = c.residual;
  a.r0 = p0;
  a.r1 = p1;
  c.f->rows(a);
  if (c.bits != nullptr) {
    c.f->pack->int8(y, c.f->pack_t, p0, p1, c.f->channels, c.f->pack_groups, c.bits);
  }
}

}  // namespace

Step make_residual_step(const ValidGraph& g, const ResidualChain& chain, const Step& conv_step,
                        Isa isa) {
  const ValidOp& conv = *chain.bconv;
  const ValidOp& add = *chain.add;
  Step s = base(g, conv);
  const int residual = add.inputs[0] == conv.output ? add.inputs[1] : add.inputs[0];
  s.inputs = {conv.inputs[0], residual};
  s.ops = {conv.index, add.index};
  s.type += std::string("+") + op_type_name(add.kind);  // "bconv+add"
  s.output = add.output;
  if (chain.pwl != nullptr) {
    s.ops.push_back(chain.pwl->index);
    s.type += std::string("+") + op_type_name(chain.pwl->kind);
    s.output = chain.pwl->output;
  }
  if (chain.pack != nullptr) {
    s.ops.push_back(chain.pack->index);
    s.type += std::string("+") + op_type_name(chain.pack->kind);
    s.extra_output = chain.pack->output;
  }
  try {
    auto p = std::static_pointer_cast<const PreparedBconv>(conv_step.prepared);
    if (!p) p = std::make_shared<const PreparedBconv>(prepare_bconv(g, conv, isa));
    s.prepared = p;
    auto f = fold_residual(chain, isa);
    if (p->ep.kind == EpilogueKind::kInt8) {
      const ResidualTail params = register_tail(*f, nullptr, nullptr);
      f->tail_table = make_tail_table(p->ep, p->weights->cout, params);
    }
    const bool packs = chain.pack != nullptr;
    s.run = [p, f, packs](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
      ResidualCall call{f.get(), in<std::int8_t>(ins, 1),
                        packs ? static_cast<std::uint32_t*>(const_cast<void*>(ins[2])) : nullptr};
      const ResidualTail tail = register_tail(*f, call.residual, call.bits);
      Epilogue ep = p->ep;
      ep.post.run = &residual_post;
      ep.post.ctx = &call;
      ep.tail = &tail;
      bconv2d(*p->plan, in<std::uint32_t>(ins, 0), static_cast<int>(n), ep, out, pool);
    };
  } catch (const std::invalid_argument& e) {
    throw unsupported(conv, e);
  }
  return s;
}

k::DwConv2dInt8Args dwconv_int8_args(const ValidGraph& g, const ValidOp& op) {
  const TensorInfo& x = g.tensors[op.inputs[0]];
  const ParamTensor& w = op.param("weights");
  k::DwConv2dInt8Args a{};
  a.x_unsigned = x.dtype == ActDType::kUint8;
  a.w = w.as<std::int8_t>();
  a.bias = op.param("bias").as<std::int32_t>();
  a.zp = op.param("zp").as<std::int32_t>();
  a.H = static_cast<std::size_t>(x.shape[1]);
  a.W = static_cast<std::size_t>(x.shape[2]);
  a.C = static_cast<std::size_t>(x.shape[3]);
  a.mult = static_cast<std::size_t>(w.shape[0]) / a.C;
  a.KH = static_cast<int>(w.shape[1]);
  a.KW = static_cast<int>(w.shape[2]);
  a.stride = static_cast<int>(op.attrs.stride);
  set_pads(op.attrs, &a);
  return a;
}

std::shared_ptr<const glue::Requant32Plan> prepare_requant32(const ValidOp& op) {
  const ParamTensor& M = op.param("M");
  const auto shift = widen_shift(op.param("s"));
  return std::make_shared<const glue::Requant32Plan>(M.as<std::int32_t>(),
                                                     op.param("B").as<std::int64_t>(),
                                                     shift->data(), M.numel);
}

std::shared_ptr<PreparedConvInt8> prepare_conv_int8(const ValidGraph& g, const ValidOp& op,
                                                    Isa isa) {
  const TensorInfo& x = g.tensors[op.inputs[0]];
  const ParamTensor& w = op.param("weights");
  auto p = std::make_shared<PreparedConvInt8>();
  glue::Conv2dInt8Args& a = p->proto;
  a.x_unsigned = x.dtype == ActDType::kUint8;
  a.w = w.as<std::int8_t>();
  a.bias = op.param("bias").as<std::int32_t>();
  a.zp = op.param("zp").as<std::int32_t>();
  set_conv_geometry(x, w, op.attrs, &a);
  auto bytes = BNNFLOW_GLUE_PICK(isa, conv2d_int8_packed_bytes);
  auto pack = BNNFLOW_GLUE_PICK(isa, conv2d_int8_pack);
  p->fn = BNNFLOW_GLUE_PICK(isa, conv2d_int8_packed);
  p->packed = AlignedBuffer(bytes(a));
  pack(a, p->packed.data());
  return p;
}

Step make_step(const ValidGraph& g, const ValidOp& op, Isa isa) {
  Step s;
  try {
    s = make_step_impl(g, op, isa);
  } catch (const std::invalid_argument& e) {  // BNNFLOW_GLUE_PICK: no kernel for this ISA
    throw unsupported(op, e);
  }
  return s;
}

Step make_conv_requant_step(const ValidGraph& g, const ValidOp& conv, const ValidOp& requant,
                            Isa isa) {
  Step s = base(g, conv);
  s.output = requant.output;
  s.ops = {conv.index, requant.index};
  s.type = "conv2d_int8+requant32";
  auto p = prepare_conv_int8(g, conv, isa);
  auto shift = widen_shift(requant.param("s"));
  const std::int32_t* M = requant.param("M").as<std::int32_t>();
  const std::int64_t* B = requant.param("B").as<std::int64_t>();
  auto rq_fn = BNNFLOW_GLUE_PICK(isa, requant32);
  auto plan = prepare_requant32(requant);
  s.run = [=](Ins ins, void* out, std::size_t n, ThreadPool& pool) {
    k::Conv2dInt8Requant rq{};
    rq.y = static_cast<std::int8_t*>(out);
    rq.M = M;
    rq.B = B;
    rq.s = shift->data();
    rq.fn = rq_fn;
    rq.prep = &plan->view();
    k::Conv2dInt8Args a = p->proto;
    a.x = ins[0];
    a.y = nullptr;
    a.N = n;
    a.rq = &rq;
    p->fn(a, p->packed.data(), &pool);
  };
  return s;
}

}  // namespace bnnflow::engine
