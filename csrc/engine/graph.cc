#include "engine/graph.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "engine/error.h"

namespace bnnflow::engine {

namespace {

void need(bool cond, const std::string& where, const std::string& message) {
  if (!cond) format_error(where + ": " + message, where);
}

std::string name_of(const Json& v, const std::string& where) {
  need(v.is_string() && !v.get<std::string>().empty() &&
           utf8_length(v.get<std::string>()) <= kMaxName,
       where,
       "expected a non-empty string of at most " + std::to_string(kMaxName) +
           " characters, got " + short_repr(v));
  return v.get<std::string>();
}

std::string sorted_list(const std::set<std::string>& names) {
  std::string s = "[";
  bool first = true;
  for (const std::string& n : names) {
    s += (first ? "" : ", ") + quote(n);
    first = false;
  }
  return s + "]";
}

// v is an object; with `keys`, exactly those fields.
const Json& object_of(const Json& v, const std::string& where,
                      std::initializer_list<const char*> keys = {}) {
  need(v.is_object(), where, std::string("expected an object, got ") + py_type(v));
  if (keys.size() != 0) {
    std::set<std::string> missing, extra;
    for (const char* k : keys) {
      if (!v.contains(k)) missing.insert(k);
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (std::find_if(keys.begin(), keys.end(), [&](const char* k) { return it.key() == k; }) ==
          keys.end()) {
        extra.insert(it.key());
      }
    }
    need(missing.empty(), where, "missing field(s) " + sorted_list(missing));
    need(extra.empty(), where, "unknown field(s) " + sorted_list(extra));
  }
  return v;
}

std::vector<std::int64_t> shape_of(const Json& v, const std::string& where) {
  need(v.is_array() && (v.size() == 2 || v.size() == 4), where,
       "expected a list of 2 or 4 dims, got " + short_repr(v));
  std::int64_t d0;
  need(json_int(v[0], &d0) && d0 == -1, where, "dim 0 (batch) must be -1, got " + short_repr(v[0]));
  std::vector<std::int64_t> shape{-1};
  std::int64_t prod = 1;
  for (std::size_t i = 1; i < v.size(); ++i) {
    std::int64_t d;
    need(json_int(v[i], &d) && d >= 1 && d <= kMaxDim, where,
         "dims must be ints in [1, " + std::to_string(kMaxDim) + "], got " + short_repr(v[i]));
    shape.push_back(d);
    prod *= d;  // <= 2^60: no overflow
  }
  need(prod <= kMaxSampleElements, where,
       std::to_string(prod) + " elements per sample exceeds " +
           std::to_string(kMaxSampleElements));
  return shape;
}

// Free JSON (metadata, normalisation): plain JSON, not too deep, finite numbers.
void json_value(const Json& v, const std::string& where, int depth = 0) {
  need(depth < 32, where, "nested too deeply");
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      json_value(it.value(), where + "." + it.key(), depth + 1);
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      json_value(v[i], where + "[" + std::to_string(i) + "]", depth + 1);
    }
  } else if (v.is_number_float()) {
    need(std::isfinite(v.get<double>()), where, "non-finite number");
  }
}

InputSpec input_spec_from_json(const Json& v) {
  const Json& d = object_of(v, "input_spec", {"name", "shape", "dtype", "normalisation",
                                              "quantisation", "description"});
  const Json& dt = d["dtype"];
  const bool ok = dt.is_string() && (dt == "uint8" || dt == "int8" || dt == "float32");
  need(ok, "input_spec.dtype",
       "expected one of ['uint8', 'int8', 'float32'], got " + short_repr(dt));
  for (const char* key : {"normalisation", "quantisation"}) {
    const std::string where = std::string("input_spec.") + key;
    need(d[key].is_null() || d[key].is_object(), where, "expected an object or null");
    json_value(d[key], where);
  }
  need(d["description"].is_string(), "input_spec.description", "expected a string");
  InputSpec s;
  s.name = name_of(d["name"], "input_spec.name");
  s.shape = shape_of(d["shape"], "input_spec.shape");
  s.dtype = dt.get<std::string>();
  s.normalisation = d["normalisation"];
  s.quantisation = d["quantisation"];
  s.description = d["description"].get<std::string>();
  return s;
}

OutputSpec output_spec_from_json(const Json& v) {
  const Json& d = object_of(v, "output_spec", {"name", "classes", "class_names"});
  OutputSpec s;
  need(json_int(d["classes"], &s.classes) && s.classes >= 1 && s.classes <= kMaxDim,
       "output_spec.classes",
       "expected an int in [1, " + std::to_string(kMaxDim) + "], got " + short_repr(d["classes"]));
  const Json& names = d["class_names"];
  if (!names.is_null()) {
    bool ok = names.is_array();
    for (std::size_t i = 0; ok && i < names.size(); ++i) ok = names[i].is_string();
    need(ok, "output_spec.class_names", "expected a list of strings or null");
    need(static_cast<std::int64_t>(names.size()) == s.classes, "output_spec.class_names",
         std::to_string(names.size()) + " names for " + std::to_string(s.classes) + " classes");
    std::vector<std::string> list;
    list.reserve(names.size());
    for (const Json& n : names) list.push_back(n.get<std::string>());
    s.class_names = std::move(list);
  }
  s.name = name_of(d["name"], "output_spec.name");
  return s;
}

Op op_from_json(const Json& v, std::size_t index) {
  const std::string where = "ops[" + std::to_string(index) + "]";
  const Json& d = object_of(v, where, {"type", "name", "inputs", "outputs", "attrs", "params"});
  Op op;
  op.name = name_of(d["name"], where + ".name");
  need(d["type"].is_string(), where + ".type", "expected a string");
  op.type = d["type"].get<std::string>();
  const std::string named = where + " " + quote(op.name);
  for (const char* key : {"inputs", "outputs"}) {
    const Json& list = d[key];
    need(list.is_array(), named + "." + key, "expected a list");
    auto& out = std::string(key) == "inputs" ? op.inputs : op.outputs;
    out.reserve(list.size());
    for (std::size_t i = 0; i < list.size(); ++i) {
      out.push_back(name_of(list[i], named + "." + key + "[" + std::to_string(i) + "]"));
    }
  }
  object_of(d["attrs"], named + ".attrs");
  const Json& params = object_of(d["params"], named + ".params");
  for (auto it = params.begin(); it != params.end(); ++it) {
    op.params.emplace_back(it.key(), name_of(it.value(), named + ".params." + it.key()));
  }
  op.attrs = d["attrs"];
  return op;
}

}  // namespace

const char* act_dtype_name(ActDType d) {
  switch (d) {
    case ActDType::kInt8: return "int8";
    case ActDType::kUint8: return "uint8";
    case ActDType::kInt32: return "int32";
    case ActDType::kFloat32: return "float32";
    case ActDType::kPacked: return "packed";
  }
  return "?";
}

std::size_t act_dtype_size(ActDType d) {
  return d == ActDType::kInt8 || d == ActDType::kUint8 ? 1 : 4;
}

std::int64_t TensorInfo::sample_elements() const {
  std::int64_t n = 1;
  for (std::size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

std::int64_t TensorInfo::rows_per_sample() const {
  std::int64_t n = 1;
  for (std::size_t i = 1; i + 1 < shape.size(); ++i) n *= shape[i];
  return n;
}

std::string shape_str(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Graph graph_from_json(const Json& doc) {
  const Json& d =
      object_of(doc, "graph", {"dataflow", "input_spec", "output_spec", "ops", "metadata"});
  const Json& df = d["dataflow"];
  need(df.is_string() && (df == "int8" || df == "float"), "graph.dataflow",
       "expected one of ['int8', 'float'], got " + short_repr(df));
  const Json& ops = d["ops"];
  need(ops.is_array() && !ops.empty() && ops.size() <= kMaxOps, "graph.ops",
       "expected a list of 1 to " + std::to_string(kMaxOps) + " ops");
  json_value(object_of(d["metadata"], "graph.metadata"), "graph.metadata");
  Graph g;
  g.dataflow = df.get<std::string>();
  g.ops.reserve(ops.size());
  for (std::size_t i = 0; i < ops.size(); ++i) g.ops.push_back(op_from_json(ops[i], i));
  g.input = input_spec_from_json(d["input_spec"]);
  g.output = output_spec_from_json(d["output_spec"]);
  g.metadata = d["metadata"];
  return g;
}

}  // namespace bnnflow::engine
