// The graph of a .bnn file as the native runtime holds it (docs/format.md; the Python side is
// bnnflow.graph.ir), parsed from its JSON document with every field's type checked first
// (bnnflow.graph.validate.graph_from_json, rule by rule). Op schemas are checked by
// validate() (engine/validate.h).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/json.h"

namespace bnnflow::engine {

inline constexpr std::int64_t kMaxDim = std::int64_t{1} << 20;
inline constexpr std::int64_t kMaxSampleElements = std::int64_t{1} << 28;
inline constexpr std::size_t kMaxName = 512;
inline constexpr std::size_t kMaxOps = 100000;
// The format versions this runtime reads (docs/format.md, Versions): 2 adds the list form
// [top, left, bottom, right] of the padding attr.
inline constexpr int kMinFormatVersion = 1;
inline constexpr int kFormatVersion = 2;

// Activation dtypes (docs/numerics.md §1): packed is uint32 words of sign bits.
enum class ActDType : std::uint8_t { kInt8, kUint8, kInt32, kFloat32, kPacked };
const char* act_dtype_name(ActDType d);
std::size_t act_dtype_size(ActDType d);

// An activation: dtype and shape, shape[0] = -1 (the batch). Packed tensors carry their real
// channel count and the groups they were packed for.
struct TensorInfo {
  std::string name;
  ActDType dtype = ActDType::kInt8;
  std::vector<std::int64_t> shape;
  std::int64_t channels = 0, groups = 0;  // packed only

  std::int64_t sample_elements() const;   // product of shape[1:]
  std::size_t sample_bytes() const { return static_cast<std::size_t>(sample_elements()) *
                                            act_dtype_size(dtype); }
  std::int64_t rows_per_sample() const;   // product of shape[1:-1] (1 for rank 2)
};

struct Op {
  std::string type, name;
  std::vector<std::string> inputs, outputs;
  Json attrs;  // an object
  std::vector<std::pair<std::string, std::string>> params;  // role -> container tensor name
};

struct InputSpec {
  std::string name, dtype, description;
  std::vector<std::int64_t> shape;
  Json normalisation, quantisation;  // null or object
};

struct OutputSpec {
  std::string name;
  std::int64_t classes = 0;
  std::optional<std::vector<std::string>> class_names;
};

struct Graph {
  std::string dataflow;
  InputSpec input;
  OutputSpec output;
  std::vector<Op> ops;
  Json metadata;
};

// The graph object of the document (bnnflow.graph.validate.graph_from_json).
Graph graph_from_json(const Json& doc);

// "[a, b, c]" (Python's list repr of a shape).
std::string shape_str(const std::vector<std::int64_t>& shape);

}  // namespace bnnflow::engine
