#include "engine/validate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <unordered_map>

#include "engine/error.h"

namespace bnnflow::engine {

namespace {

// Largest magnitude of a float32 param (docs/numerics.md §5: with inputs below 2^32 a float32
// op's products stay below 2^96 and its sums below 2^126, short of float32's 2^128).
constexpr double kMaxFloatParam = 18446744073709551616.0;  // 2^64

// Python's f"{x:.4g}".
std::string format_g4(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", x);
  return buf;
}

// The op table is the op manifest (csrc/engine/op_manifest.h, generated from
// src/bnnflow/graph/manifest.py): inputs, attrs, params, conditions and fixed-point rules are
// data there; shape inference (infer_* below) is the code of each op.
using AttrSpec = manifest::Attr;
using ParamSpec = manifest::Param;
using OpSchema = manifest::Op;

// Python's AttrSpec.describe().
std::string describe(const AttrSpec& a) {
  std::string text;
  if (!a.is_int) {
    text = "one of ";
    for (std::size_t i = 0; i < a.choices.size(); ++i) text += (i ? ", " : "") + quote(a.choices[i]);
  } else {
    text = "int in [" + std::to_string(a.lo) + ", " + std::to_string(a.hi) + "]";
    if (a.sides) text += " or a list [top, left, bottom, right] of them";
  }
  return a.nullable ? text + " or null" : text;
}

// The attrs check_attr stores in OpAttrs; a manifest attr outside this list needs a field.
constexpr const char* kStoredAttrs[] = {"stride",   "padding",  "groups",   "kernel",
                                        "out_groups", "clamp_lo", "clamp_hi", "pad_mode",
                                        "epilogue"};

// The manifest's ops, checked once against what this file's code handles: OpKind order, every
// attr stored in OpAttrs, every condition on a declared string attr.
const std::vector<OpSchema>& schemas() {
  static const std::vector<OpSchema>& all = []() -> const std::vector<OpSchema>& {
    const std::vector<OpSchema>& ops = manifest::ops();
    for (std::size_t i = 0; i < ops.size(); ++i) {
      const OpSchema& op = ops[i];
      if (static_cast<std::size_t>(op.kind) != i) {
        throw std::logic_error("op manifest: " + op.type + " is out of OpKind order");
      }
      for (const AttrSpec& a : op.attrs) {
        const bool stored = std::any_of(std::begin(kStoredAttrs), std::end(kStoredAttrs),
                                        [&](const char* n) { return a.name == n; });
        if (!stored) {
          throw std::logic_error("op manifest: attr " + a.name + " of " + op.type +
                                 " has no OpAttrs field (csrc/engine/validate.cc check_attr)");
        }
      }
    }
    return ops;
  }();
  return all;
}

const std::unordered_map<std::string, const OpSchema*>& schema_index() {
  static const std::unordered_map<std::string, const OpSchema*> index = [] {
    std::unordered_map<std::string, const OpSchema*> m;
    for (const OpSchema& s : schemas()) m.emplace(s.type, &s);
    return m;
  }();
  return index;
}

std::string known_types() {
  std::vector<std::string> names;
  for (const OpSchema& s : schemas()) names.emplace_back(s.type);
  std::sort(names.begin(), names.end());
  std::string t;
  for (std::size_t i = 0; i < names.size(); ++i) t += (i ? ", " : "") + names[i];
  return t;
}

// A manifest condition: always (no attr), or the attr is one of the strings `in`.
bool applies(const manifest::Cond& when, const Json& attrs) {
  if (when.attr.empty()) return true;
  auto it = attrs.find(when.attr);
  if (it == attrs.end() || !it->is_string()) return false;
  const std::string& v = it->get_ref<const std::string&>();
  return std::find(when.in.begin(), when.in.end(), v) != when.in.end();
}

std::int64_t floordiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::int64_t words_per_group(std::int64_t channels, std::int64_t groups) {
  return (channels / groups + 31) / 32;
}

std::string join_or(const std::vector<std::string>& items) {
  std::string t;
  for (std::size_t i = 0; i < items.size(); ++i) t += (i ? " or " : "") + items[i];
  return t;
}

std::string dtypes_text(const std::vector<DType>& dtypes) {
  std::vector<std::string> names;
  for (DType d : dtypes) names.emplace_back(dtype_name(d));
  return join_or(names);
}

// What an op's checks see; fail() throws the op-naming error.
class OpContext {
 public:
  OpContext(const Op& op, std::size_t index, const std::vector<const TensorInfo*>& inputs,
            ValidOp& out)
      : op_(op), index_(index), inputs_(inputs), out_(out) {}

  [[noreturn]] void fail(const std::string& field, const std::string& message) const {
    format_error("op #" + std::to_string(index_) + " " + quote(op_.name) + " (" + op_.type +
                     "): " + field + ": " + message,
                 field);
  }

  const TensorInfo& input(std::size_t i, std::initializer_list<ActDType> dtypes,
                          std::initializer_list<int> ranks) const {
    const TensorInfo& t = *inputs_[i];
    const std::string field = "inputs[" + std::to_string(i) + "]";
    if (std::find(dtypes.begin(), dtypes.end(), t.dtype) == dtypes.end()) {
      std::vector<std::string> names;
      for (ActDType d : dtypes) names.emplace_back(act_dtype_name(d));
      fail(field, "tensor " + quote(t.name) + " has dtype " + act_dtype_name(t.dtype) +
                      ", expected " + join_or(names));
    }
    const int rank = static_cast<int>(t.shape.size());
    if (std::find(ranks.begin(), ranks.end(), rank) == ranks.end()) {
      std::vector<std::string> names;
      for (int r : ranks) names.push_back(std::to_string(r));
      fail(field, "tensor " + quote(t.name) + " has rank " + std::to_string(rank) + " (shape " +
                      shape_str(t.shape) + "), expected rank " + join_or(names));
    }
    return t;
  }

  std::size_t num_inputs() const { return inputs_.size(); }
  const OpAttrs& attrs() const { return out_.attrs; }
  const ParamTensor& param(const char* role) const { return out_.param(role); }
  std::string tensor_name(const char* role) const { return quote(param(role).name); }

  void expect_shape(const char* role, const std::vector<std::int64_t>& shape) const {
    const ParamTensor& t = param(role);
    if (t.shape != shape) {
      fail(std::string("params.") + role, "tensor " + quote(t.name) + " has shape " +
                                              shape_str(t.shape) + ", expected " +
                                              shape_str(shape));
    }
  }
  void expect_channels(std::initializer_list<const char*> roles, std::int64_t c) const {
    for (const char* r : roles) expect_shape(r, {c});
  }
  // Every bound param has shape [c], in the manifest's param order.
  void expect_all_channels(std::int64_t c) const {
    for (const auto& [role, t] : out_.params) expect_shape(role.c_str(), {c});
  }
  const std::vector<std::int64_t>& expect_rank(const char* role, std::size_t rank) const {
    const ParamTensor& t = param(role);
    if (t.shape.size() != rank) {
      fail(std::string("params.") + role, "tensor " + quote(t.name) + " has shape " +
                                              shape_str(t.shape) + ", expected rank " +
                                              std::to_string(rank));
    }
    if (std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end()) {
      fail(std::string("params.") + role, "tensor " + quote(t.name) +
                                              " has an empty dimension: shape " +
                                              shape_str(t.shape));
    }
    return t.shape;
  }
  void expect_dtype(const char* role, DType d) const {
    const ParamTensor& t = param(role);
    if (t.dtype != d) {
      fail(std::string("params.") + role, "tensor " + quote(t.name) + " has dtype " +
                                              dtype_name(t.dtype) + ", expected " +
                                              dtype_name(d) + " here");
    }
  }

  TensorInfo output(ActDType dtype, std::vector<std::int64_t> shape, std::int64_t channels = 0,
                    std::int64_t groups = 0) const {
    TensorInfo t;
    t.name = op_.outputs[0];
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.channels = channels;
    t.groups = groups;
    return t;
  }

 private:
  const Op& op_;
  std::size_t index_;
  const std::vector<const TensorInfo*>& inputs_;
  ValidOp& out_;
};

// ---- shared rules ----------------------------------------------------------------------

// The padding attr as given (Python's padding_text): "1" or "[0, 0, 1, 1]".
std::string padding_text(const OpAttrs& a) {
  if (!a.pad_list) return std::to_string(a.pad_top);
  return "[" + std::to_string(a.pad_top) + ", " + std::to_string(a.pad_left) + ", " +
         std::to_string(a.pad_bottom) + ", " + std::to_string(a.pad_right) + "]";
}

std::pair<std::int64_t, std::int64_t> spatial(const OpContext& ctx, const TensorInfo& x,
                                              std::int64_t kh, std::int64_t kw,
                                              const char* field) {
  const OpAttrs& a = ctx.attrs();
  const std::int64_t s = a.stride;
  const std::int64_t ho = floordiv(x.shape[1] + a.pad_top + a.pad_bottom - kh, s) + 1;
  const std::int64_t wo = floordiv(x.shape[2] + a.pad_left + a.pad_right - kw, s) + 1;
  if (ho < 1 || wo < 1) {
    ctx.fail(field, "kernel " + std::to_string(kh) + "x" + std::to_string(kw) +
                        " does not fit the input " + std::to_string(x.shape[1]) + "x" +
                        std::to_string(x.shape[2]) + " with padding " + padding_text(a));
  }
  return {ho, wo};
}

TensorInfo epilogue_out(const OpContext& ctx, std::int64_t cout,
                        std::vector<std::int64_t> prefix) {
  const OpAttrs& a = ctx.attrs();
  if (a.clamp_lo && a.clamp_hi && *a.clamp_lo > *a.clamp_hi) {
    ctx.fail("attrs.clamp_lo", "clamp_lo " + std::to_string(*a.clamp_lo) + " > clamp_hi " +
                                   std::to_string(*a.clamp_hi));
  }
  std::vector<std::int64_t> shape = prefix;
  if (a.epilogue == "int32") {
    shape.push_back(cout);
    return ctx.output(ActDType::kInt32, shape);
  }
  if (a.epilogue == "float") {
    ctx.expect_channels({"scale", "bias"}, cout);
    shape.push_back(cout);
    return ctx.output(ActDType::kFloat32, shape);
  }
  if (a.epilogue == "int8") {
    ctx.expect_channels({"M", "B", "s"}, cout);
    shape.push_back(cout);
    return ctx.output(ActDType::kInt8, shape);
  }
  ctx.expect_shape("T", {cout});
  const std::int64_t og = a.out_groups;
  if (cout % og) {
    ctx.fail("attrs.out_groups", "out_groups " + std::to_string(og) + " does not divide the " +
                                     std::to_string(cout) + " output channels");
  }
  shape.push_back(og * words_per_group(cout, og));
  return ctx.output(ActDType::kPacked, shape, cout, og);
}

// Bits >= `bits` of the last word along the last axis must be 0 (numerics §1).
void check_pad_bits(const OpContext& ctx, const char* role, std::int64_t bits) {
  const std::int64_t used = bits % 32;
  if (used == 0) return;
  const ParamTensor& w = ctx.param(role);
  const std::uint32_t mask = ~((std::uint32_t{1} << used) - 1u);
  const std::size_t last = static_cast<std::size_t>(w.shape.back());
  const std::uint32_t* d = w.as<std::uint32_t>();
  std::uint32_t stray = 0;
  for (std::size_t i = last - 1; i < w.numel; i += last) stray |= d[i];
  if (stray & mask) {
    ctx.fail(std::string("params.") + role,
             "tensor " + quote(w.name) + " has pad bits set beyond the " + std::to_string(bits) +
                 " channels of a group (pad bits must be 0)");
  }
}

void expect_zp(const OpContext& ctx, ActDType x_dtype, std::int64_t channels) {
  ctx.expect_shape("zp", {channels});
  const ParamTensor& zp = ctx.param("zp");
  const std::int32_t* z = zp.as<std::int32_t>();
  const std::int32_t lo = *std::min_element(z, z + zp.numel);
  const std::int32_t hi = *std::max_element(z, z + zp.numel);
  const bool u = x_dtype == ActDType::kUint8;
  const std::int64_t min = u ? 0 : -128, max = u ? 255 : 127;
  if (lo < min || hi > max) {
    ctx.fail("params.zp", "tensor " + quote(zp.name) + " has values in [" + std::to_string(lo) +
                              ", " + std::to_string(hi) + "], expected within [" +
                              std::to_string(min) + ", " + std::to_string(max) + "] (the " +
                              act_dtype_name(x_dtype) + " input's range)");
  }
}

std::vector<std::int64_t> without_last(const std::vector<std::int64_t>& s) {
  return std::vector<std::int64_t>(s.begin(), s.end() - 1);
}

// ---- per op ------------------------------------------------------------------------------

using A = ActDType;

TensorInfo infer_pack(const OpContext& ctx) {
  const TensorInfo& x = ctx.input(0, {A::kInt8, A::kFloat32}, {2, 4});
  const std::int64_t c = x.shape.back(), g = ctx.attrs().groups;
  if (c % g) {
    ctx.fail("attrs.groups", "groups " + std::to_string(g) + " does not divide the " +
                                 std::to_string(c) + " channels");
  }
  ctx.expect_dtype("t", x.dtype == A::kInt8 ? DType::kInt32 : DType::kFloat32);
  ctx.expect_shape("t", {c});
  auto shape = without_last(x.shape);
  shape.push_back(g * words_per_group(c, g));
  return ctx.output(A::kPacked, shape, c, g);
}

TensorInfo infer_bconv(const OpContext& ctx) {
  const TensorInfo& x = ctx.input(0, {A::kPacked}, {4});
  const auto w = ctx.expect_rank("weights", 4);
  const std::int64_t cout = w[0], kh = w[1], kw = w[2], wg = w[3];
  const std::int64_t g = ctx.attrs().groups;
  if (x.groups != g) {
    ctx.fail("attrs.groups", "groups " + std::to_string(g) + " but input " + quote(x.name) +
                                 " is packed for " + std::to_string(x.groups) + " groups");
  }
  if (cout % g) {
    ctx.fail("attrs.groups", "groups " + std::to_string(g) + " does not divide the " +
                                 std::to_string(cout) + " output channels");
  }
  const std::int64_t cg = x.channels / g;
  if (wg != words_per_group(x.channels, g)) {
    ctx.fail("params.weights", std::to_string(wg) + " words per group, but " +
                                   std::to_string(cg) + " input channels per group need " +
                                   std::to_string(words_per_group(x.channels, g)));
  }
  if (kh * kw * cg > kMaxBinaryK) {
    ctx.fail("params.weights", "K = " + std::to_string(kh) + "*" + std::to_string(kw) + "*" +
                                   std::to_string(cg) + " = " + std::to_string(kh * kw * cg) +
                                   " exceeds " + std::to_string(kMaxBinaryK) +
                                   " (16-bit binary accumulators, docs/numerics.md \xC2\xA7" "4)");
  }
  const OpAttrs& pa = ctx.attrs();
  if (pa.pad_mode == "valid" && (pa.pad_top || pa.pad_left || pa.pad_bottom || pa.pad_right)) {
    ctx.fail("attrs.padding", "pad_mode 'valid' requires padding 0");
  }
  check_pad_bits(ctx, "weights", cg);
  const auto [ho, wo] = spatial(ctx, x, kh, kw, "params.weights");
  return epilogue_out(ctx, cout, {x.shape[0], ho, wo});
}

TensorInfo infer_bdense(const OpContext& ctx) {
  const TensorInfo& x = ctx.input(0, {A::kPacked}, {2});
  if (x.groups != 1) {
    ctx.fail("inputs[0]", "tensor " + quote(x.name) + " is packed for " +
                              std::to_string(x.groups) + " groups; bdense needs 1");
  }
  const auto w = ctx.expect_rank("weights", 2);
  if (w[1] != x.shape.back()) {
    ctx.fail("params.weights", std::to_string(w[1]) + " words per row, input " + quote(x.name) +
                                   " has " + std::to_string(x.shape.back()));
  }
  if (x.channels > kMaxBinaryK) {
    ctx.fail("inputs[0]", "K = " + std::to_string(x.channels) + " input channels exceeds " +
                              std::to_string(kMaxBinaryK) +
                              " (16-bit binary accumulators, docs/numerics.md \xC2\xA7" "4)");
  }
  check_pad_bits(ctx, "weights", x.channels);
  return epilogue_out(ctx, w[0], {x.shape[0]});
}

std::pair<std::int64_t, std::int64_t> pool_spatial(const OpContext& ctx, const TensorInfo& x) {
  const OpAttrs& a = ctx.attrs();
  const std::int64_t k = a.kernel;
  const std::int64_t pd = std::max({a.pad_top, a.pad_left, a.pad_bottom, a.pad_right});
  if (2 * pd > k) {
    ctx.fail("attrs.padding", "padding " + padding_text(a) + " exceeds half the kernel " +
                                  std::to_string(k));
  }
  return spatial(ctx, x, k, k, "attrs.kernel");
}

TensorInfo infer_maxpool_packed(const OpContext& ctx) {
  const TensorInfo& x = ctx.input(0, {A::kPacked}, {4});
  const auto [ho, wo] = pool_spatial(ctx, x);
  return ctx.output(A::kPacked, {x.shape[0], ho, wo, x.shape[3]}, x.channels, x.groups);
}

// Elementwise over [N, C] / [N, H, W, C]; every param has one value per channel.
TensorInfo unary(const OpContext& ctx, A in, A out) {
  const TensorInfo& x = ctx.input(0, {in}, {2, 4});
  ctx.expect_all_channels(x.shape.back());
  return ctx.output(out, x.shape);
}

TensorInfo binary_same(const OpContext& ctx, A dtype) {
  const TensorInfo& a = ctx.input(0, {dtype}, {2, 4});
  const TensorInfo& b = ctx.input(1, {dtype}, {2, 4});
  if (a.shape != b.shape) {
    ctx.fail("inputs[1]", "shape " + shape_str(b.shape) + " of " + quote(b.name) +
                              " differs from " + shape_str(a.shape) + " of " + quote(a.name));
  }
  ctx.expect_all_channels(a.shape.back());
  return ctx.output(dtype, a.shape);
}

// a [N, C] or [N, H, W, C]; b of a's shape, or [N, C] (a gate: broadcast over H and W).
TensorInfo infer_mul_f32(const OpContext& ctx) {
  const TensorInfo& a = ctx.input(0, {A::kFloat32}, {2, 4});
  const TensorInfo& b = ctx.input(1, {A::kFloat32}, {2, 4});
  const std::vector<std::int64_t> gate{a.shape.front(), a.shape.back()};
  if (a.shape.size() == 2 && b.shape != a.shape) {
    ctx.fail("inputs[1]", "shape " + shape_str(b.shape) + " of " + quote(b.name) + " is not " +
                              shape_str(a.shape) + ", the shape of " + quote(a.name) +
                              " (a [N, C] gate broadcasts only over a 4-D inputs[0])");
  }
  if (b.shape != a.shape && b.shape != gate) {
    ctx.fail("inputs[1]", "shape " + shape_str(b.shape) + " of " + quote(b.name) +
                              " is neither " + shape_str(a.shape) + " nor [N, C] = " +
                              shape_str(gate) + " of " + quote(a.name));
  }
  return ctx.output(A::kFloat32, a.shape);
}

TensorInfo pool(const OpContext& ctx, A in, A out) {
  const TensorInfo& x = ctx.input(0, {in}, {4});
  const auto [ho, wo] = pool_spatial(ctx, x);
  return ctx.output(out, {x.shape[0], ho, wo, x.shape[3]});
}

TensorInfo global_pool(const OpContext& ctx, A in, A out) {
  const TensorInfo& x = ctx.input(0, {in}, {4});
  return ctx.output(out, {x.shape[0], x.shape[3]});
}

TensorInfo conv(const OpContext& ctx, bool int8, A out) {
  const TensorInfo& x = int8 ? ctx.input(0, {A::kUint8, A::kInt8}, {4})
                             : ctx.input(0, {A::kFloat32}, {4});
  const auto w = ctx.expect_rank("weights", 4);
  if (w[3] != x.shape[3]) {
    ctx.fail("params.weights", std::to_string(w[3]) + " input channels, input " + quote(x.name) +
                                   " has " + std::to_string(x.shape[3]));
  }
  ctx.expect_shape("bias", {w[0]});
  if (int8) expect_zp(ctx, x.dtype, w[3]);
  const auto [ho, wo] = spatial(ctx, x, w[1], w[2], "params.weights");
  return ctx.output(out, {x.shape[0], ho, wo, w[0]});
}

TensorInfo infer_dwconv(const OpContext& ctx) {
  const TensorInfo& x = ctx.input(0, {A::kUint8, A::kInt8}, {4});
  const std::int64_t c = x.shape[3];
  const auto w = ctx.expect_rank("weights", 3);
  if (w[0] % c) {
    ctx.fail("params.weights", std::to_string(w[0]) +
                                   " output channels is not a multiple of the " +
                                   std::to_string(c) + " input channels");
  }
  ctx.expect_shape("bias", {w[0]});
  expect_zp(ctx, x.dtype, c);
  const auto [ho, wo] = spatial(ctx, x, w[1], w[2], "params.weights");
  return ctx.output(A::kInt32, {x.shape[0], ho, wo, w[0]});
}

TensorInfo dense(const OpContext& ctx, A in, A out) {
  const TensorInfo& x = ctx.input(0, {in}, {2});
  const auto w = ctx.expect_rank("weights", 2);
  if (w[1] != x.shape[1]) {
    ctx.fail("params.weights", std::to_string(w[1]) + " input features, input " + quote(x.name) +
                                   " has " + std::to_string(x.shape[1]));
  }
  ctx.expect_shape("bias", {w[0]});
  return ctx.output(out, {x.shape[0], w[0]});
}

TensorInfo infer_concat(const OpContext& ctx) {
  const TensorInfo& first = ctx.input(0, {A::kInt8, A::kFloat32}, {2, 4});
  const int rank = static_cast<int>(first.shape.size());
  std::int64_t total = first.shape.back();
  for (std::size_t i = 1; i < ctx.num_inputs(); ++i) {
    const TensorInfo& t = ctx.input(i, {first.dtype}, {rank});
    if (!std::equal(t.shape.begin(), t.shape.end() - 1, first.shape.begin())) {
      ctx.fail("inputs[" + std::to_string(i) + "]",
               "shape " + shape_str(t.shape) + " of " + quote(t.name) + " does not match " +
                   shape_str(first.shape) + " of " + quote(first.name) +
                   " outside the channel axis");
    }
    total += t.shape.back();
  }
  auto shape = without_last(first.shape);
  shape.push_back(total);
  return ctx.output(first.dtype, shape);
}

TensorInfo infer_channel_shuffle(const OpContext& ctx) {
  const TensorInfo& x = ctx.input(0, {A::kInt8, A::kFloat32}, {2, 4});
  const std::int64_t c = x.shape.back(), g = ctx.attrs().groups;
  if (c % g) {
    ctx.fail("attrs.groups", "groups " + std::to_string(g) + " does not divide the " +
                                 std::to_string(c) + " channels");
  }
  return ctx.output(x.dtype, x.shape);
}

TensorInfo infer_flatten(const OpContext& ctx) {
  const TensorInfo& x = ctx.input(0, {A::kInt8, A::kInt32, A::kFloat32}, {4});
  return ctx.output(x.dtype, {x.shape[0], x.shape[1] * x.shape[2] * x.shape[3]});
}

TensorInfo infer(const OpContext& ctx, OpKind kind) {
  switch (kind) {
    case OpKind::kPack: return infer_pack(ctx);
    case OpKind::kBconv: return infer_bconv(ctx);
    case OpKind::kBdense: return infer_bdense(ctx);
    case OpKind::kMaxpoolPacked: return infer_maxpool_packed(ctx);
    case OpKind::kRequant: return unary(ctx, A::kInt8, A::kInt8);
    case OpKind::kRequant32: return unary(ctx, A::kInt32, A::kInt8);
    case OpKind::kAdd: return binary_same(ctx, A::kInt8);
    case OpKind::kPwl: return unary(ctx, A::kInt8, A::kInt8);
    case OpKind::kMaxpoolInt8: return pool(ctx, A::kInt8, A::kInt8);
    case OpKind::kSumpoolInt8: return pool(ctx, A::kInt8, A::kInt32);
    case OpKind::kGlobalSumpoolInt8: return global_pool(ctx, A::kInt8, A::kInt32);
    case OpKind::kConv2dInt8: return conv(ctx, true, A::kInt32);
    case OpKind::kDwconv2dInt8: return infer_dwconv(ctx);
    case OpKind::kDenseInt8: return dense(ctx, A::kInt8, A::kInt32);
    case OpKind::kConcat: return infer_concat(ctx);
    case OpKind::kDequant: return unary(ctx, A::kInt32, A::kFloat32);
    case OpKind::kScaleBias: return unary(ctx, A::kFloat32, A::kFloat32);
    case OpKind::kAddF32: return binary_same(ctx, A::kFloat32);
    case OpKind::kPwlF32:
      return unary(ctx, A::kFloat32, A::kFloat32);
    case OpKind::kConv2dF32: return conv(ctx, false, A::kFloat32);
    case OpKind::kDenseF32: return dense(ctx, A::kFloat32, A::kFloat32);
    case OpKind::kMaxpoolF32: return pool(ctx, A::kFloat32, A::kFloat32);
    case OpKind::kAvgpoolF32: return pool(ctx, A::kFloat32, A::kFloat32);
    case OpKind::kGlobalAvgpoolF32: return global_pool(ctx, A::kFloat32, A::kFloat32);
    case OpKind::kFlatten: return infer_flatten(ctx);
    case OpKind::kChannelShuffle: return infer_channel_shuffle(ctx);
    case OpKind::kSigmoidF32: return unary(ctx, A::kFloat32, A::kFloat32);
    case OpKind::kMulF32: return infer_mul_f32(ctx);
  }
  ctx.fail("type", "unhandled op type");
}

// ---- attrs and params ---------------------------------------------------------------------

void check_attr(const OpContext& ctx, const AttrSpec& spec, const Json& value, OpAttrs& out) {
  const std::string field = std::string("attrs.") + spec.name;
  auto bad = [&](const std::string& why) { ctx.fail(field, "expected " + describe(spec) + ", " + why); };
  if (value.is_null()) {
    if (!spec.nullable) bad("got null");
    return;
  }
  const std::string name = spec.name;
  if (spec.is_int && spec.sides && value.is_array()) {  // padding [top, left, bottom, right]
    // as Python: 4 ints (any size; bools and floats are not), then each within [lo, hi]
    std::int64_t v[4] = {0, 0, 0, 0};
    bool ints = value.size() == 4, in_range = true;
    for (std::size_t i = 0; ints && i < 4; ++i) {
      ints = value[i].is_number_integer();
      if (ints && (!json_int(value[i], &v[i]) || v[i] < spec.lo || v[i] > spec.hi)) in_range = false;
    }
    if (!ints) bad("got list " + short_repr(value));
    if (!in_range) bad("got " + short_repr(value));
    if (name == "padding") {
      out.pad_top = v[0], out.pad_left = v[1], out.pad_bottom = v[2], out.pad_right = v[3];
      out.pad_list = true;
    }
    return;
  }
  if (spec.is_int) {
    std::int64_t v;
    if (!json_int(value, &v)) {
      if (value.is_number_integer()) bad("got " + value.dump());  // beyond int64
      bad(std::string("got ") + py_type(value) + " " + short_repr(value));
    }
    if (v < spec.lo || v > spec.hi) bad("got " + std::to_string(v));
    if (name == "stride") out.stride = v;
    else if (name == "padding") out.pad_top = out.pad_left = out.pad_bottom = out.pad_right = v;
    else if (name == "groups") out.groups = v;
    else if (name == "kernel") out.kernel = v;
    else if (name == "out_groups") out.out_groups = v;
    else if (name == "clamp_lo") out.clamp_lo = v;
    else if (name == "clamp_hi") out.clamp_hi = v;
    return;
  }
  bool ok = value.is_string();
  if (ok) {
    const std::string& s = value.get_ref<const std::string&>();
    ok = std::find(spec.choices.begin(), spec.choices.end(), s) != spec.choices.end();
  }
  if (!ok) bad("got " + short_repr(value));
  if (name == "pad_mode") out.pad_mode = value.get<std::string>();
  else if (name == "epilogue") out.epilogue = value.get<std::string>();
}

void check_attrs(const OpContext& ctx, const Op& op, const OpSchema& schema, OpAttrs& out) {
  const Json& attrs = op.attrs;
  for (int pass = 0; pass < 2; ++pass) {
    for (const AttrSpec& spec : schema.attrs) {
      const bool conditional = !spec.when.attr.empty();
      if (conditional != (pass == 1)) continue;
      auto it = attrs.find(spec.name);
      const std::string field = "attrs." + spec.name;
      if (!conditional || applies(spec.when, attrs)) {
        if (it == attrs.end()) ctx.fail(field, "missing (expected " + describe(spec) + ")");
        check_attr(ctx, spec, *it, out);
      } else if (it != attrs.end()) {
        ctx.fail(field, "not allowed with these attrs");
      }
    }
  }
  std::set<std::string> extra;
  for (auto it = attrs.begin(); it != attrs.end(); ++it) {
    const bool known = std::any_of(schema.attrs.begin(), schema.attrs.end(),
                                   [&](const AttrSpec& s) { return it.key() == s.name; });
    if (!known) extra.insert(it.key());
  }
  if (!extra.empty()) {
    std::set<std::string> names;
    for (const AttrSpec& s : schema.attrs) names.insert(s.name);
    std::string list = "[";
    for (const std::string& n : names) list += (list.size() > 1 ? ", " : "") + quote(n);
    ctx.fail("attrs." + *extra.begin(), "unknown attr (expected " + list + "])");
  }
}

// min / max of an integer tensor as int64.
std::pair<std::int64_t, std::int64_t> int_range(const ParamTensor& t) {
  std::int64_t lo = INT64_MAX, hi = INT64_MIN;
  auto scan = [&](auto* d) {
    for (std::size_t i = 0; i < t.numel; ++i) {
      const std::int64_t v = static_cast<std::int64_t>(d[i]);
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  };
  switch (t.dtype) {
    case DType::kInt8: scan(t.as<std::int8_t>()); break;
    case DType::kUint8: scan(t.as<std::uint8_t>()); break;
    case DType::kInt16: scan(t.as<std::int16_t>()); break;
    case DType::kInt32: scan(t.as<std::int32_t>()); break;
    case DType::kInt64: scan(t.as<std::int64_t>()); break;
    case DType::kUint32: scan(t.as<std::uint32_t>()); break;
    case DType::kFloat32: break;
  }
  return {lo, hi};
}

void check_params(const OpContext& ctx, const Op& op, const OpSchema& schema,
                  const Container& container, ValidOp& out) {
  std::vector<const ParamSpec*> wanted;
  for (const ParamSpec& s : schema.params) {
    if (applies(s.when, op.attrs)) wanted.push_back(&s);
  }
  auto find_wanted = [&](const std::string& role) -> const ParamSpec* {
    for (const ParamSpec* s : wanted) {
      if (role == s->role) return s;
    }
    return nullptr;
  };
  for (const auto& [role, name] : op.params) {
    if (find_wanted(role) != nullptr) continue;
    const bool in_schema = std::any_of(schema.params.begin(), schema.params.end(),
                                       [&r = role](const ParamSpec& s) { return r == s.role; });
    if (in_schema) ctx.fail("params." + role, "not allowed with these attrs");
    std::set<std::string> names;
    for (const ParamSpec* s : wanted) names.insert(s->role);
    std::string list = "[";
    for (const std::string& n : names) list += (list.size() > 1 ? ", " : "") + quote(n);
    ctx.fail("params." + role, "unknown param (expected " + list + "])");
  }
  for (const ParamSpec* spec : wanted) {
    const std::string field = "params." + spec->role;
    auto it = std::find_if(op.params.begin(), op.params.end(),
                           [&](const auto& rp) { return rp.first == spec->role; });
    if (it == op.params.end()) {
      ctx.fail(field, "missing (expected a tensor of dtype " + dtypes_text(spec->dtypes) + ")");
    }
    auto found = container.index.find(it->second);
    if (found == container.index.end()) {
      ctx.fail(field, "tensor " + quote(it->second) + " is not in the container");
    }
    const ParamTensor& t = container.tensors[found->second];
    if (std::find(spec->dtypes.begin(), spec->dtypes.end(), t.dtype) == spec->dtypes.end()) {
      ctx.fail(field, "tensor " + quote(t.name) + " has dtype " + dtype_name(t.dtype) +
                          ", expected " + dtypes_text(spec->dtypes));
    }
    if (t.dtype == DType::kFloat32) {
      const float* d = t.as<float>();
      float big = 0.0f;
      for (std::size_t i = 0; i < t.numel; ++i) {
        if (!std::isfinite(d[i])) {
          ctx.fail(field, "tensor " + quote(t.name) + " has non-finite values");
        }
        big = std::max(big, std::fabs(d[i]));
      }
      if (big > kMaxFloatParam) {
        ctx.fail(field, "tensor " + quote(t.name) + " has a value of magnitude " +
                            format_g4(big) + ", expected |x| <= 2^64 = " +
                            format_g4(kMaxFloatParam) +
                            " (float32 intermediates must not overflow, docs/numerics.md "
                            "\xC2\xA7" "5)");
      }
    }
    if (spec->ranged && t.numel > 0) {
      const auto [lo, hi] = int_range(t);
      if (lo < spec->lo || hi > spec->hi) {
        ctx.fail(field, "tensor " + quote(t.name) + " has values in [" + std::to_string(lo) +
                            ", " + std::to_string(hi) + "], expected within [" +
                            std::to_string(spec->lo) + ", " + std::to_string(spec->hi) + "]");
      }
    }
    out.params.emplace_back(spec->role, &t);
  }
}

// ---- fixed point (numerics §3) ----------------------------------------------------------

std::int64_t element(const ParamTensor& t, std::size_t i) {
  switch (t.dtype) {
    case DType::kInt8: return t.as<std::int8_t>()[i];
    case DType::kInt16: return t.as<std::int16_t>()[i];
    case DType::kInt32: return t.as<std::int32_t>()[i];
    case DType::kInt64: return t.as<std::int64_t>()[i];
    default: return 0;
  }
}

std::string i128_str(__int128 v) {
  if (v == 0) return "0";
  const bool neg = v < 0;
  unsigned __int128 u = neg ? -static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
  std::string s;
  while (u) {
    s += static_cast<char>('0' + static_cast<int>(u % 10));
    u /= 10;
  }
  if (neg) s += '-';
  return std::string(s.rbegin(), s.rend());
}

// The op's manifest rule (numerics §3), when it has one that applies to these attrs.
void check_fixed_point(const OpContext& ctx, const ValidOp& vop, const OpSchema& schema,
                       const Json& attrs) {
  const manifest::FixedPoint& rule = schema.fixed_point;
  if (!rule.present || !applies(rule.when, attrs)) return;
  const int bits = rule.bits;
  const __int128 xlo = rule.in_lo, xhi = rule.in_hi;
  const ParamTensor& s = vop.param("s");
  std::vector<std::int64_t> mv;
  for (const manifest::Branch& b : rule.branches) {
    const ParamTensor& bias = vop.param(b.bias.c_str());
    std::vector<const ParamTensor*> mults;
    for (const std::string& m : b.mults) mults.push_back(&vop.param(m.c_str()));
    for (std::size_t c = 0; c < bias.numel; ++c) {
      mv.clear();
      for (const ParamTensor* m : mults) mv.push_back(element(*m, c));
      const auto [vmin, vmax, overflows] =
          fixed_point_range(rule, mv.data(), mv.size(), element(bias, c), element(s, c));
      if (overflows) {
        ctx.fail("params." + b.bias,
                 "channel " + std::to_string(c) + ": " + b.formula + " + rounding reaches [" +
                     i128_str(vmin) + ", " + i128_str(vmax) +
                     "] over the input range [" + i128_str(xlo) + ", " + i128_str(xhi) +
                     "], overflows int" + std::to_string(bits) +
                     " (numerics \xC2\xA7" "3)");
      }
    }
  }
}

}  // namespace

FixedPointRange fixed_point_range(const manifest::FixedPoint& rule, const std::int64_t* mults,
                                  std::size_t n_mults, std::int64_t bias, std::int64_t shift) {
  const __int128 xlo = rule.in_lo, xhi = rule.in_hi;
  const __int128 r = shift > 0 ? static_cast<__int128>(1) << (shift - 1) : 0;
  __int128 vmax = static_cast<__int128>(bias) + r, vmin = vmax;
  for (std::size_t i = 0; i < n_mults; ++i) {
    const __int128 m = mults[i];
    vmax += std::max(m * xlo, m * xhi);
    vmin += std::min(m * xlo, m * xhi);
  }
  const __int128 acc_hi = (static_cast<__int128>(1) << (rule.bits - 1)) - 1;
  const __int128 acc_lo = -(static_cast<__int128>(1) << (rule.bits - 1));
  return {vmin, vmax, vmax > acc_hi || vmin < acc_lo};
}

const ParamTensor& ValidOp::param(const char* role) const {
  for (const auto& [r, t] : params) {
    if (r == role) return *t;
  }
  throw std::logic_error(std::string("param role ") + role + " not bound");
}

const char* op_type_name(OpKind kind) {
  for (const OpSchema& s : schemas()) {
    if (s.kind == kind) return s.type.c_str();
  }
  return "?";
}

ValidGraph validate(const Graph& graph, const Container& container) {
  ValidGraph out;
  std::unordered_map<std::string, int> ids;  // activation name -> tensor id
  ids.reserve(graph.ops.size() * 2 + 1);
  {
    TensorInfo in;
    in.name = graph.input.name;
    const std::string& d = graph.input.dtype;
    in.dtype = d == "uint8" ? ActDType::kUint8 : d == "int8" ? ActDType::kInt8 : ActDType::kFloat32;
    in.shape = graph.input.shape;
    if (container.index.count(in.name)) {
      format_error("input_spec.name: " + quote(in.name) + " is also a container tensor",
                   "input_spec.name");
    }
    ids.emplace(in.name, 0);
    out.tensors.push_back(std::move(in));
  }
  std::vector<char> used(container.tensors.size(), 0);
  out.ops.reserve(graph.ops.size());
  const auto& index = schema_index();
  std::vector<const TensorInfo*> inputs;
  for (std::size_t i = 0; i < graph.ops.size(); ++i) {
    const Op& op = graph.ops[i];
    ValidOp vop{};
    vop.index = i;
    inputs.clear();
    OpContext ctx(op, i, inputs, vop);
    auto found = index.find(op.type);
    if (found == index.end()) {
      ctx.fail("type", "unknown op type " + quote(op.type) + " (known: " + known_types() + ")");
    }
    const OpSchema& schema = *found->second;
    vop.kind = schema.kind;
    // inputs / outputs (SSA, topological order)
    const std::size_t n = op.inputs.size();
    if (!schema.variadic && n != static_cast<std::size_t>(schema.inputs)) {
      ctx.fail("inputs", std::to_string(n) + " inputs, expected " + std::to_string(schema.inputs));
    }
    if (schema.variadic && n < static_cast<std::size_t>(schema.inputs)) {
      ctx.fail("inputs", std::to_string(n) + " inputs, expected at least " +
                             std::to_string(schema.inputs));
    }
    for (std::size_t k = 0; k < n; ++k) {
      auto it = ids.find(op.inputs[k]);
      if (it == ids.end()) {
        ctx.fail("inputs[" + std::to_string(k) + "]",
                 "tensor " + quote(op.inputs[k]) +
                     " is used before it is defined (ops must be in topological order; no cycles)");
      }
      vop.inputs.push_back(it->second);
      inputs.push_back(&out.tensors[it->second]);
    }
    if (op.outputs.size() != 1) {
      ctx.fail("outputs", std::to_string(op.outputs.size()) + " outputs, expected 1");
    }
    if (ids.count(op.outputs[0]) || container.index.count(op.outputs[0])) {
      ctx.fail("outputs[0]", "tensor " + quote(op.outputs[0]) +
                                 " is already defined (each tensor is defined once)");
    }
    check_attrs(ctx, op, schema, vop.attrs);
    check_params(ctx, op, schema, container, vop);
    TensorInfo info = infer(ctx, schema.kind);
    check_fixed_point(ctx, vop, schema, op.attrs);
    __int128 elems = 1;
    bool too_big = false;
    for (std::size_t k = 1; k < info.shape.size(); ++k) {
      elems *= info.shape[k];
      too_big = too_big || info.shape[k] > kMaxDim;
    }
    if (too_big || elems > kMaxSampleElements) {
      ctx.fail("outputs[0]", "output shape " + shape_str(info.shape) + " is too large");
    }
    for (const auto& [role, t] : vop.params) used[container.index.at(t->name)] = 1;
    const int id = static_cast<int>(out.tensors.size());
    ids.emplace(info.name, id);
    vop.output = id;
    out.tensors.push_back(std::move(info));
    out.ops.push_back(std::move(vop));
  }
  const OutputSpec& spec = graph.output;
  auto it = ids.find(spec.name);
  if (it == ids.end() || spec.name == graph.input.name) {
    format_error("output_spec.name: tensor " + quote(spec.name) + " is not produced by any op",
                 "output_spec.name");
  }
  const TensorInfo& logits = out.tensors[it->second];
  const std::vector<std::int64_t> want{-1, spec.classes};
  if (logits.dtype != ActDType::kFloat32 || logits.shape != want) {
    format_error("output_spec: tensor " + quote(spec.name) + " is " +
                     act_dtype_name(logits.dtype) + " " + shape_str(logits.shape) +
                     ", expected float32 " + shape_str(want),
                 "output_spec");
  }
  out.output = it->second;
  std::set<std::string> unused;
  for (std::size_t k = 0; k < used.size(); ++k) {
    if (!used[k]) unused.insert(container.tensors[k].name);
  }
  if (!unused.empty()) {
    format_error("tensors: container tensor " + quote(*unused.begin()) +
                     " is not used by any op (" + std::to_string(unused.size()) + " unused)",
                 "tensors");
  }
  return out;
}

}  // namespace bnnflow::engine
