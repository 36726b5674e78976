#include "mutator.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bnnflow_fuzz {

namespace {

using Json = nlohmann::ordered_json;
using Rng = std::mt19937_64;

// Strings the format gives meaning to: op types, dtypes, attr names, param roles.
const char* const kWords[] = {
    "pack", "bconv", "bdense", "maxpool_packed", "requant", "requant32", "add", "pwl",
    "maxpool_int8", "sumpool_int8", "global_sumpool_int8", "conv2d_int8", "dwconv2d_int8",
    "dense_int8", "concat", "dequant", "scale_bias", "add_f32", "pwl_f32", "conv2d_f32",
    "dense_f32", "maxpool_f32", "avgpool_f32", "global_avgpool_f32", "flatten", "channel_shuffle",
    "sigmoid_f32", "mul_f32",
    "int8", "uint8", "int32", "float32", "packed", "int16", "uint32", "int64",
    "F32", "I8", "U8", "I16", "I32", "I64", "U32", "F16", "BOOL",
    "zero", "one", "valid", "none", "int8_requant", "float", "sign", "bias", "clamp_min",
    "clamp_max", "kernel", "stride", "padding", "groups", "out_groups", "pad_mode", "epilogue",
    "weights", "scale", "zp", "M", "B", "s", "t", "Ma", "Mb", "Mp", "Bp", "Mn", "Bn",
    "kp", "bp", "kn", "bn", "shape", "dtype", "data_offsets", "inputs", "outputs", "attrs",
    "params", "type", "name", "ops", "graph", "input_spec", "output_spec", "classes",
    "class_names", "dataflow", "format_version", "quantisation", "normalisation", "",
    "x", "\xc3\xa9", "a/b", "image", "logits"};

int64_t interesting_int(Rng& rng, int64_t v) {
  static const int64_t kInts[] = {0, 1, -1, 2, 3, 7, 8, 31, 32, 33, 63, 64, 65, 127, 128, 255,
                                  256, 30, 31, 65535, 65536, (1 << 20), (1 << 20) + 1,
                                  (int64_t{1} << 28), INT32_MAX, INT32_MIN,
                                  int64_t{1} << 32, int64_t{1} << 40, INT64_MAX, INT64_MIN};
  const uint64_t u = static_cast<uint64_t>(v);  // wrap-around arithmetic
  switch (rng() % 6) {
    case 0: return static_cast<int64_t>(u + 1);
    case 1: return static_cast<int64_t>(u - 1);
    case 2: return static_cast<int64_t>(u * 2);
    case 3: return v / 2;
    case 4: return static_cast<int64_t>(0 - u);
    default: return kInts[rng() % (sizeof(kInts) / sizeof(kInts[0]))];
  }
}

double interesting_float(Rng& rng, double v) {
  static const double kFloats[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e-45, 1e-38, 3.4e38, -3.4e38,
                                   1e39, 1e308, 2147483648.0, 1e-300};
  switch (rng() % 4) {
    case 0: return v * 2;
    case 1: return -v;
    case 2: return v + 1;
    default: return kFloats[rng() % (sizeof(kFloats) / sizeof(kFloats[0]))];
  }
}

Json random_scalar(Rng& rng) {
  switch (rng() % 7) {
    case 0: return nullptr;
    case 1: return bool(rng() & 1);
    case 2: return interesting_int(rng, 0);
    case 3: return interesting_float(rng, 1.0);
    case 4: return kWords[rng() % (sizeof(kWords) / sizeof(kWords[0]))];
    case 5: return Json::array();
    default: return Json::object();
  }
}

void collect(Json& v, std::vector<Json*>* nodes, std::vector<std::string>* strings) {
  nodes->push_back(&v);
  if (v.is_string()) strings->push_back(v.get<std::string>());
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      strings->push_back(it.key());
      collect(it.value(), nodes, strings);
    }
  } else if (v.is_array()) {
    for (auto& e : v) collect(e, nodes, strings);
  }
}

// One change to one node of `doc` (a random node; strings drawn from the format's words and
// from the document's own names).
void mutate_json(Json& doc, Rng& rng) {
  std::vector<Json*> nodes;
  std::vector<std::string> strings{"x"};
  collect(doc, &nodes, &strings);
  Json& v = *nodes[rng() % nodes.size()];
  Json& donor = *nodes[rng() % nodes.size()];
  if (rng() % 8 == 0) {
    v = rng() % 2 ? random_scalar(rng) : Json(donor);  // retype, or copy another subtree
    return;
  }
  if (v.is_number_integer()) {
    v = interesting_int(rng, v.get<int64_t>());
  } else if (v.is_number_float()) {
    v = interesting_float(rng, v.get<double>());
  } else if (v.is_boolean()) {
    v = !v.get<bool>();
  } else if (v.is_string()) {
    switch (rng() % 4) {
      case 0: v = kWords[rng() % (sizeof(kWords) / sizeof(kWords[0]))]; break;
      case 1: v = strings[rng() % strings.size()]; break;
      case 2: v = v.get<std::string>() + strings[rng() % strings.size()]; break;
      default: {
        std::string s = v.get<std::string>();
        if (!s.empty()) s.erase(rng() % s.size(), 1);
        v = s;
      }
    }
  } else if (v.is_array()) {
    const size_t n = v.size();
    switch (rng() % 5) {
      case 0:
        if (n) v.erase(rng() % n);
        break;
      case 1:
        if (n) {
          Json copy = v[rng() % n];
          v.insert(v.begin() + static_cast<std::ptrdiff_t>(rng() % (n + 1)), std::move(copy));
        }
        break;
      case 2:
        if (n > 1) std::swap(v[rng() % n], v[rng() % n]);
        break;
      case 3: v.push_back(random_scalar(rng)); break;
      default:
        if (&donor != &v) v.push_back(Json(donor));
    }
  } else if (v.is_object()) {
    const size_t n = v.size();
    switch (rng() % 3) {
      case 0:
        if (n) {
          auto it = v.begin();
          std::advance(it, static_cast<std::ptrdiff_t>(rng() % n));
          v.erase(it);
        }
        break;
      case 1: {
        const std::string key = rng() % 2 ? std::string(kWords[rng() % (sizeof(kWords) /
                                                                      sizeof(kWords[0]))])
                                          : strings[rng() % strings.size()];
        v[key] = rng() % 2 ? random_scalar(rng) : (&donor == &v ? Json() : Json(donor));
        break;
      }
      default:
        if (n) {  // rename a key (keeps its value)
          auto it = v.begin();
          std::advance(it, static_cast<std::ptrdiff_t>(rng() % n));
          Json val = it.value();
          const std::string key = strings[rng() % strings.size()];
          v.erase(it);
          v[key] = std::move(val);
        }
    }
  }
}

uint64_t read_u64le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

size_t mutate_bnn(uint8_t* data, size_t size, size_t max_size, unsigned seed, RawMutate raw) {
  if (size < 10 || data[8] != '{') return raw(data, size, max_size);
  const uint64_t n = read_u64le(data);
  if (n < 2 || n > size - 8) return raw(data, size, max_size);
  Json header = Json::parse(data + 8, data + 8 + n, nullptr, false);
  if (header.is_discarded() || !header.is_object()) return raw(data, size, max_size);
  std::string region(reinterpret_cast<const char*>(data + 8 + n), size - 8 - n);
  Rng rng(seed);

  const unsigned what = rng() % 8;
  auto meta = header.find("__metadata__");
  Json graph;
  bool have_graph = false;
  if (meta != header.end() && meta->is_object() && meta->contains("bnnflow.graph") &&
      (*meta)["bnnflow.graph"].is_string()) {
    graph = Json::parse((*meta)["bnnflow.graph"].get<std::string>(), nullptr, false);
    have_graph = !graph.is_discarded();
  }
  if (what < 5 && have_graph) {
    for (unsigned k = 0, m = 1 + rng() % 3; k < m; ++k) mutate_json(graph, rng);
    (*meta)["bnnflow.graph"] =
        graph.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else if (what < 7) {
    mutate_json(header, rng);  // tensor entries: dtype, shape, data_offsets, metadata
  } else if (!region.empty()) {
    // Tensor values (weights, zero points, shifts, thresholds): a few bytes in place.
    for (unsigned k = 0, m = 1 + rng() % 4; k < m; ++k) {
      region[rng() % region.size()] = static_cast<char>(rng() % 4 ? rng() : (rng() % 2 ? 0 : 0xff));
    }
  }
  std::string text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  while (text.size() % 8) text.push_back(' ');
  if (rng() % 16 == 0 && !region.empty()) region.resize(rng() % region.size());  // truncate
  const size_t out = 8 + text.size() + region.size();
  if (out > max_size) return raw(data, size, max_size);
  uint64_t len = text.size();
  for (int i = 0; i < 8; ++i) data[i] = static_cast<uint8_t>(len >> (8 * i));
  std::memcpy(data + 8, text.data(), text.size());
  std::memcpy(data + 8 + text.size(), region.data(), region.size());
  return out;
}

}  // namespace bnnflow_fuzz
