#include "engine/container.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "engine/error.h"
#include "engine/json.h"

namespace bnnflow::engine {

namespace {

const char* kExportHint = "export it first with `bnnflow export CHECKPOINT -o model.bnn`";

struct DtypeCode {
  const char* code;
  DType dtype;
};
// Sorted by code: what the error message lists.
const DtypeCode kCodes[] = {{"F32", DType::kFloat32}, {"I16", DType::kInt16},
                            {"I32", DType::kInt32},   {"I64", DType::kInt64},
                            {"I8", DType::kInt8},     {"U32", DType::kUint32},
                            {"U8", DType::kUint8}};

bool parse_code(const std::string& code, DType* out) {
  for (const DtypeCode& c : kCodes) {
    if (code == c.code) {
      *out = c.dtype;
      return true;
    }
  }
  return false;
}

std::uint64_t read_u64le(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string i128_text(unsigned __int128 v) {
  if (v == 0) return "0";
  std::string t;
  for (; v; v /= 10) t += static_cast<char>('0' + static_cast<int>(v % 10));
  return std::string(t.rbegin(), t.rend());
}

struct Span {
  std::uint64_t begin, end;
  std::size_t tensor;
};

ParamTensor check_entry(const std::string& name, const MapJson& entry, std::uint64_t data_len,
                        Span* span) {
  const std::string where = "tensor " + quote(name);
  if (!entry.is_object() || entry.size() != 3 || !entry.contains("dtype") ||
      !entry.contains("shape") || !entry.contains("data_offsets")) {
    format_error(where + ": header entry must have exactly dtype, shape, data_offsets");
  }
  const MapJson& dtype = entry["dtype"];
  const MapJson& shape = entry["shape"];
  const MapJson& offsets = entry["data_offsets"];
  ParamTensor t;
  t.name = name;
  if (!dtype.is_string() || !parse_code(dtype.get<std::string>(), &t.dtype)) {
    format_error(where + ": dtype " + short_repr(dtype) +
                 " is not one of ['F32', 'I16', 'I32', 'I64', 'I8', 'U32', 'U8']");
  }
  bool ok_shape = shape.is_array() && shape.size() <= kMaxRank;
  for (std::size_t i = 0; ok_shape && i < shape.size(); ++i) {
    std::int64_t d;
    ok_shape = json_int(shape[i], &d) && d >= 0 && d < (std::int64_t{1} << 40);
    if (ok_shape) t.shape.push_back(d);
  }
  if (!ok_shape) {
    format_error(where + ": shape " + short_repr(shape) +
                 " is not a list of non-negative ints");
  }
  std::int64_t begin = 0, end = 0;
  if (!offsets.is_array() || offsets.size() != 2 || !json_int(offsets[0], &begin) ||
      !json_int(offsets[1], &end)) {
    format_error(where + ": data_offsets must be two ints");
  }
  if (!(0 <= begin && begin <= end && static_cast<std::uint64_t>(end) <= data_len)) {
    format_error(where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                 "] outside the " + std::to_string(data_len) +
                 "-byte data region (truncated file?)");
  }
  // Element count with overflow detection (dims < 2^40, at most 8 of them).
  unsigned __int128 numel = 1;
  bool huge = false;
  for (std::int64_t d : t.shape) {
    numel *= static_cast<unsigned __int128>(d);
    if (numel > (static_cast<unsigned __int128>(1) << 64)) huge = true, numel = 0;
    if (huge) break;
  }
  const unsigned __int128 nbytes = numel * dtype_size(t.dtype);
  if (huge || nbytes != static_cast<unsigned __int128>(end - begin)) {
    std::string dims = "[";
    for (std::size_t i = 0; i < t.shape.size(); ++i) {
      dims += (i ? ", " : "") + std::to_string(t.shape[i]);
    }
    const std::string want = huge ? "more than 2^64" : i128_text(nbytes);
    format_error(where + ": " + std::to_string(end - begin) + " bytes of data for shape " + dims +
                 "] " + dtype.get<std::string>() + " (" + want + " bytes)");
  }
  t.numel = static_cast<std::size_t>(numel);
  span->begin = static_cast<std::uint64_t>(begin);
  span->end = static_cast<std::uint64_t>(end);
  return t;
}

}  // namespace

const char* dtype_name(DType d) {
  switch (d) {
    case DType::kInt8: return "int8";
    case DType::kUint8: return "uint8";
    case DType::kInt16: return "int16";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kUint32: return "uint32";
    case DType::kFloat32: return "float32";
  }
  return "?";
}

std::size_t dtype_size(DType d) {
  switch (d) {
    case DType::kInt8:
    case DType::kUint8: return 1;
    case DType::kInt16: return 2;
    case DType::kInt64: return 8;
    default: return 4;
  }
}

const char* sniff(const std::uint8_t* head, std::size_t size) {
  if (size >= 9 && head[8] == '{') {
    const std::uint64_t n = read_u64le(head);
    if (n >= 2 && n <= kMaxHeaderBytes) return "safetensors";
  }
  if (size >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return "zip";
  if (size >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5) return "pickle";
  return "unknown";
}

Container read_container(const std::uint8_t* data, std::size_t size) {
  const std::string kind = sniff(data, size);
  if (kind == "zip" || kind == "pickle") {
    format_error("not a .bnn file: this looks like a PyTorch checkpoint (" + kind + "); " +
                 kExportHint);
  }
  if (size < 8) {
    format_error("not a safetensors file: " + std::to_string(size) +
                 " bytes, shorter than the 8-byte header length (truncated?)");
  }
  const std::uint64_t n = read_u64le(data);
  if (n < 2 || n > kMaxHeaderBytes) {
    format_error("not a safetensors file: header length " + std::to_string(n) +
                 " is absurd (accepted: 2 to " + std::to_string(kMaxHeaderBytes) + " bytes)");
  }
  if (8 + n > size) {
    format_error("truncated file: header length " + std::to_string(n) + " but only " +
                 std::to_string(size - 8) + " bytes follow");
  }
  MapJson header =
      parse_json(reinterpret_cast<const char*>(data + 8), n, "safetensors header");
  if (!header.is_object()) format_error("safetensors header: expected a JSON object");
  Container c;
  auto meta = header.find("__metadata__");
  if (meta != header.end()) {
    if (!meta->is_object()) {
      format_error("safetensors header: __metadata__ must map strings to strings");
    }
    for (auto it = meta->begin(); it != meta->end(); ++it) {
      if (!it.value().is_string()) {
        format_error("safetensors header: __metadata__ must map strings to strings");
      }
      c.metadata.emplace(it.key(), it.value().get<std::string>());
    }
    header.erase(meta);
  }
  if (header.size() > kMaxTensors) {
    format_error("safetensors header: " + std::to_string(header.size()) + " tensors (at most " +
                 std::to_string(kMaxTensors) + ")");
  }
  const std::uint64_t data_len = size - 8 - n;
  std::vector<Span> spans;
  spans.reserve(header.size());
  c.tensors.reserve(header.size());
  for (auto it = header.begin(); it != header.end(); ++it) {
    Span s{};
    c.tensors.push_back(check_entry(it.key(), it.value(), data_len, &s));
    s.tensor = c.tensors.size() - 1;
    spans.push_back(s);
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  std::uint64_t pos = 0;
  for (const Span& s : spans) {
    if (s.begin != pos) {
      format_error("safetensors data: tensors overlap or leave gaps (a tensor starts at byte " +
                   std::to_string(s.begin) + ", expected " + std::to_string(pos) + ")");
    }
    pos = s.end;
  }
  if (pos != data_len) {
    format_error("safetensors data: " + std::to_string(data_len - pos) +
                 " trailing bytes after the last tensor");
  }
  const std::uint8_t* region = data + 8 + n;
  for (const Span& s : spans) {
    ParamTensor& t = c.tensors[s.tensor];
    t.data = AlignedBuffer(s.end - s.begin, /*zero_all=*/false);
    if (s.end > s.begin) std::memcpy(t.data.data(), region + s.begin, s.end - s.begin);
  }
  c.index.reserve(c.tensors.size());
  for (std::size_t i = 0; i < c.tensors.size(); ++i) c.index.emplace(c.tensors[i].name, i);
  return c;
}

}  // namespace bnnflow::engine
