// The safetensors container of a .bnn file, read defensively (docs/format.md; the rules of
// bnnflow.format.container): u64 little-endian header length N, N bytes of JSON header
// {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets"}}, then the data.
// Every entry is checked (dtype known, shape sane, offsets inside the file, byte count equal
// to the shape's, tensors contiguous without gaps or overlap) before any byte is used.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/buffer.h"

namespace bnnflow::engine {

// Param dtypes a container may hold (safetensors codes I8 U8 I16 I32 I64 U32 F32).
enum class DType : std::uint8_t { kInt8, kUint8, kInt16, kInt32, kInt64, kUint32, kFloat32 };

const char* dtype_name(DType d);  // numpy names: "int8", ..., "float32"
std::size_t dtype_size(DType d);

inline constexpr std::size_t kMaxHeaderBytes = std::size_t{64} << 20;
inline constexpr std::size_t kMaxTensors = 1000000;
inline constexpr std::size_t kMaxRank = 8;
inline constexpr std::uint64_t kMaxFileBytes = std::uint64_t{4} << 30;

struct ParamTensor {
  std::string name;
  DType dtype = DType::kInt8;
  std::vector<std::int64_t> shape;
  std::size_t numel = 0;
  AlignedBuffer data;  // owned, aligned copy of the tensor's bytes

  template <class T>
  const T* as() const { return reinterpret_cast<const T*>(data.data()); }
};

struct Container {
  std::map<std::string, std::string> metadata;
  std::vector<ParamTensor> tensors;
  std::unordered_map<std::string, std::size_t> index;  // name -> position in tensors
};

// What the first bytes say the file is: "safetensors", "zip", "pickle" or "unknown".
const char* sniff(const std::uint8_t* head, std::size_t size);

// Checks and copies out the container at [data, data + size).
Container read_container(const std::uint8_t* data, std::size_t size);

}  // namespace bnnflow::engine
