// Validation of a whole graph against the op schemas and the container: the C++ port of
// bnnflow.graph.schema + bnnflow.graph.validate, rule by rule and with the same messages
// ("op #3 'layer1.0.conv1' (bconv): attrs.stride: expected int in [1, 64], got 0"). Known op
// types, inputs defined before use and once (SSA, topological order), attrs (presence, type,
// range), params (presence, dtype, shape, value range, finite floats, pad bits), shape
// inference of all 25 op types, the fixed-point overflow rules (numerics §3), activation size
// limits, the output spec and unused container tensors. Linear in the size of the graph.
// The declarative part of every op (inputs, attrs, params, conditions, fixed-point rules) is
// the op manifest, engine/op_manifest.h, generated from src/bnnflow/graph/manifest.py; shape
// inference is code here and in bnnflow.graph.schema (docs/development.md, "Adding an op").
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/container.h"
#include "engine/graph.h"
#include "engine/op_manifest.h"

namespace bnnflow::engine {

// The attrs of an op, typed (only those its schema has are meaningful).
struct OpAttrs {
  std::int64_t stride = 1, groups = 1, kernel = 1, out_groups = 1;
  // padding per side: the int form p sets all four; the list form (format version 2) is
  // [top, left, bottom, right] (docs/format.md, Padding)
  std::int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool pad_list = false;  // given as a list (messages show it as given)
  std::string pad_mode, epilogue;
  std::optional<std::int64_t> clamp_lo, clamp_hi;
};

struct ValidOp {
  OpKind kind;
  std::size_t index;                 // position in the graph
  std::vector<int> inputs;           // tensor ids (0 = the graph input)
  int output = -1;
  OpAttrs attrs;
  std::vector<std::pair<std::string, const ParamTensor*>> params;  // role -> tensor
  const ParamTensor& param(const char* role) const;
};

struct ValidGraph {
  std::vector<TensorInfo> tensors;  // id -> info; 0 is the graph input, then op outputs
  std::vector<ValidOp> ops;
  int output = -1;                  // tensor id of the logits
};

// Checks `graph` against the schemas and `container`; throws Error (kFormat) on the first
// violation, naming the op and field.
ValidGraph validate(const Graph& graph, const Container& container);

// The op type names, in catalogue order (for messages and tools).
const char* op_type_name(OpKind kind);

// The fixed-point intermediate of numerics §3 for one channel of one branch of a manifest
// rule: [vmin, vmax] of sum_i mults[i]*x_i + bias + 2^(shift-1) (0 for shift 0) over every
// x_i in the rule's input range, and whether it leaves the rule's `bits`-bit accumulator.
// The validator and the per-op bindings both check with it.
struct FixedPointRange {
  __int128 vmin, vmax;
  bool overflows;
};
FixedPointRange fixed_point_range(const manifest::FixedPoint& rule, const std::int64_t* mults,
                                  std::size_t n_mults, std::int64_t bias, std::int64_t shift);

// The schema table is manifest::ops() (engine/op_manifest.h); tests compare it with
// bnnflow.graph.SCHEMAS and bnnflow.graph.manifest.OPS.

}  // namespace bnnflow::engine
