// Python binding of the native executor (csrc/engine): NativeModel, what
// bnnflow.runtime.Interpreter wraps. run() is one native call with the GIL released.
// engine::Error becomes bnnflow.errors.FormatError (a bad file), ValueError (a bad argument),
// OSError (an unreadable file) or RuntimeError (an ISA this CPU or build cannot run).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstring>
#include <memory>

#include "bindings/registry.h"
#include "engine/error.h"
#include "engine/model.h"

namespace nb = nanobind;
using namespace nb::literals;
namespace e = bnnflow::engine;

namespace {

using Array = nb::ndarray<nb::ro, nb::device::cpu, nb::c_contig>;

e::ModelOptions options(int threads, const std::optional<std::string>& isa,
                        std::optional<bool> fuse) {
  e::ModelOptions o;
  o.fuse = fuse;
  if (threads < 1 || threads > e::kMaxThreads) {
    throw e::Error(e::ErrorKind::kInput, "num_threads must be in [1, " +
                                             std::to_string(e::kMaxThreads) + "], got " +
                                             std::to_string(threads));
  }
  o.num_threads = threads;
  if (isa) {
    bnnflow::Isa parsed;
    try {
      parsed = bnnflow::parse_isa(*isa);
    } catch (const std::invalid_argument&) {
      throw e::Error(e::ErrorKind::kInput,
                     "isa must be one of scalar, avx2, avx512, neon, got '" + *isa + "'");
    }
    if (!bnnflow::isa_supported(parsed)) {
      std::string names;
      for (bnnflow::Isa i : bnnflow::supported_isas()) {
        names += (names.empty() ? "" : ", ") + std::string(bnnflow::isa_name(i));
      }
      throw e::Error(e::ErrorKind::kUnsupported, "isa '" + *isa +
                                                     "' is not supported by this CPU (supported: " +
                                                     names + ")");
    }
    o.isa = parsed;
  }
  return o;
}

nb::dlpack::dtype np_dtype(e::ActDType d) {
  switch (d) {
    case e::ActDType::kInt8: return nb::dtype<std::int8_t>();
    case e::ActDType::kUint8: return nb::dtype<std::uint8_t>();
    case e::ActDType::kInt32: return nb::dtype<std::int32_t>();
    case e::ActDType::kFloat32: return nb::dtype<float>();
    case e::ActDType::kPacked: return nb::dtype<std::uint32_t>();
  }
  return nb::dtype<std::uint8_t>();
}

nb::dlpack::dtype np_dtype(e::DType d) {
  switch (d) {
    case e::DType::kInt8: return nb::dtype<std::int8_t>();
    case e::DType::kUint8: return nb::dtype<std::uint8_t>();
    case e::DType::kInt16: return nb::dtype<std::int16_t>();
    case e::DType::kInt32: return nb::dtype<std::int32_t>();
    case e::DType::kInt64: return nb::dtype<std::int64_t>();
    case e::DType::kUint32: return nb::dtype<std::uint32_t>();
    case e::DType::kFloat32: return nb::dtype<float>();
  }
  return nb::dtype<std::uint8_t>();
}

// A new numpy array owning a copy of `bytes` bytes at `src`, of tensor `info`, batch n.
nb::object new_array(const e::TensorInfo& info, std::size_t n, const void* src) {
  std::vector<std::size_t> shape{n};
  for (std::size_t i = 1; i < info.shape.size(); ++i) shape.push_back(static_cast<std::size_t>(info.shape[i]));
  const std::size_t bytes = n * info.sample_bytes();
  auto* p = new std::uint8_t[bytes == 0 ? 1 : bytes];
  if (src != nullptr) std::memcpy(p, src, bytes);
  nb::capsule owner(p, [](void* q) noexcept { delete[] static_cast<std::uint8_t*>(q); });
  return nb::cast(nb::ndarray<nb::numpy>(p, shape.size(), shape.data(), owner, nullptr,
                                         np_dtype(info.dtype)));
}

// The batch of `x` after checking it against tensor `info` (rank, shape, dtype).
std::size_t check_array(const Array& x, const e::TensorInfo& info, const std::string& what) {
  std::string want = "[N";
  for (std::size_t i = 1; i < info.shape.size(); ++i) want += ", " + std::to_string(info.shape[i]);
  want += "] " + std::string(e::act_dtype_name(info.dtype));
  auto got = [&] {
    std::string s = "[";
    for (std::size_t i = 0; i < x.ndim(); ++i) s += (i ? ", " : "") + std::to_string(x.shape(i));
    return s + "]";
  };
  if (x.ndim() != info.shape.size()) {
    throw e::Error(e::ErrorKind::kInput, what + ": expected rank " +
                                             std::to_string(info.shape.size()) + " (" + want +
                                             "), got rank " + std::to_string(x.ndim()) +
                                             " with shape " + got());
  }
  for (std::size_t i = 1; i < info.shape.size(); ++i) {
    if (static_cast<std::int64_t>(x.shape(i)) != info.shape[i]) {
      throw e::Error(e::ErrorKind::kInput, what + ": expected shape " + want + ", got shape " + got());
    }
  }
  if (x.dtype() != np_dtype(info.dtype)) {
    throw e::Error(e::ErrorKind::kInput, what + ": expected dtype " +
                                             e::act_dtype_name(info.dtype) + " (" + want + ")");
  }
  if (x.shape(0) < 1) {
    throw e::Error(e::ErrorKind::kInput, what + ": batch must be >= 1, got an empty batch of shape " + got());
  }
  return x.shape(0);
}

nb::dict tensor_dict(const e::TensorInfo& t) {
  nb::dict d;
  d["name"] = t.name;
  d["dtype"] = std::string(e::act_dtype_name(t.dtype));
  d["shape"] = t.shape;
  if (t.dtype == e::ActDType::kPacked) {
    d["channels"] = t.channels;
    d["groups"] = t.groups;
  }
  return d;
}

class NativeModel {
 public:
  explicit NativeModel(std::unique_ptr<e::Model> m) : m_(std::move(m)) {}
  const e::Model& m() const { return *m_; }
  e::Model& m() { return *m_; }

 private:
  std::unique_ptr<e::Model> m_;
};

nb::object run(const NativeModel& self, const Array& x, bool profile) {
  const e::Model& m = self.m();
  const std::size_t n = check_array(x, m.input_info(), "input '" + m.input_info().name + "'");
  nb::object out = new_array(m.output_info(), n, nullptr);
  float* y = static_cast<float*>(nb::cast<nb::ndarray<>>(out).data());
  std::vector<double> seconds;
  {
    nb::gil_scoped_release release;
    m.run(x.data(), n, y, profile ? &seconds : nullptr);
  }
  if (!profile) return out;
  return nb::make_tuple(out, seconds);
}

nb::dict run_all(const NativeModel& self, const Array& x) {
  const e::Model& m = self.m();
  const std::size_t n = check_array(x, m.input_info(), "input '" + m.input_info().name + "'");
  e::Activations acts;
  {
    nb::gil_scoped_release release;
    acts = m.run_all(x.data(), n);
  }
  nb::dict out;
  const auto& tensors = m.valid().tensors;
  for (std::size_t t = 1; t < tensors.size(); ++t) {
    out[tensors[t].name.c_str()] = new_array(tensors[t], n, acts.tensor(static_cast<int>(t)));
  }
  return out;
}

nb::object run_op(const NativeModel& self, std::size_t index, const std::vector<Array>& xs) {
  const e::Model& m = self.m();
  if (index >= m.valid().ops.size()) {
    throw e::Error(e::ErrorKind::kInput, "op index " + std::to_string(index) + " out of range");
  }
  const e::ValidOp& op = m.valid().ops[index];
  const std::string what = "run_op '" + m.graph().ops[index].name + "' (" + m.graph().ops[index].type + ")";
  if (xs.size() != op.inputs.size()) {
    std::string names;
    for (int t : op.inputs) names += (names.empty() ? "" : ", ") + m.valid().tensors[t].name;
    throw e::Error(e::ErrorKind::kInput, what + ": takes " + std::to_string(op.inputs.size()) +
                                             " inputs (" + names + "), got " +
                                             std::to_string(xs.size()));
  }
  std::size_t n = 0;
  std::vector<const void*> ptrs;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const e::TensorInfo& info = m.valid().tensors[op.inputs[i]];
    const std::size_t ni = check_array(xs[i], info, what + ": inputs[" + std::to_string(i) +
                                                        "] (tensor '" + info.name + "')");
    if (i == 0) n = ni;
    if (ni != n) {
      throw e::Error(e::ErrorKind::kInput, what + ": inputs[" + std::to_string(i) + "] has batch " +
                                               std::to_string(ni) + ", inputs[0] " +
                                               std::to_string(n) + " (one batch for all)");
    }
    ptrs.push_back(xs[i].data());
  }
  nb::object out = new_array(m.valid().tensors[op.output], n, nullptr);
  void* y = nb::cast<nb::ndarray<>>(out).data();
  {
    nb::gil_scoped_release release;
    m.run_op(index, ptrs.data(), n, y);
  }
  return out;
}

// A param tensor of the container as a read-only numpy view (the model stays alive).
nb::object param(nb::handle self_obj, const std::string& name) {
  const NativeModel& self = nb::cast<const NativeModel&>(self_obj);
  const e::Container& c = self.m().container();
  auto it = c.index.find(name);
  if (it == c.index.end()) throw nb::key_error(("no container tensor named '" + name + "'").c_str());
  const e::ParamTensor& t = c.tensors[it->second];
  std::vector<std::size_t> shape(t.shape.begin(), t.shape.end());
  auto arr = nb::ndarray<nb::numpy, nb::ro>(const_cast<std::uint8_t*>(t.data.data()), shape.size(),
                                            shape.data(), self_obj, nullptr, np_dtype(t.dtype));
  return nb::cast(arr, nb::rv_policy::reference);
}

void translate(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const e::Error& err) {
    switch (err.kind()) {
      case e::ErrorKind::kFormat: {
        nb::object cls = nb::module_::import_("bnnflow.errors").attr("FormatError");
        nb::object field = err.field().empty() ? nb::none() : nb::cast(err.field());
        nb::object exc = cls(err.what(), "field"_a = field);
        PyErr_SetObject(cls.ptr(), exc.ptr());
        return;
      }
      case e::ErrorKind::kInput: PyErr_SetString(PyExc_ValueError, err.what()); return;
      case e::ErrorKind::kIo: PyErr_SetString(PyExc_OSError, err.what()); return;
      case e::ErrorKind::kUnsupported: PyErr_SetString(PyExc_RuntimeError, err.what()); return;
    }
    PyErr_SetString(PyExc_RuntimeError, err.what());
  }
}

}  // namespace

BNNFLOW_BIND(model) {
  nb::register_exception_translator(&translate);
  m.def(
      "native_op_schemas",
      [] {
        auto cond = [](const e::manifest::Cond& c) -> nb::object {
          if (c.attr.empty()) return nb::none();
          nb::dict d;
          d["attr"] = c.attr;
          d["in"] = c.in;
          return d;
        };
        nb::list out;
        for (const e::manifest::Op& s : e::manifest::ops()) {
          nb::list attrs, params;
          for (const auto& a : s.attrs) {
            nb::dict d;
            d["name"] = a.name;
            d["kind"] = a.is_int ? "int" : "str";
            d["lo"] = a.is_int ? nb::cast(a.lo) : nb::none();
            d["hi"] = a.is_int ? nb::cast(a.hi) : nb::none();
            d["choices"] = a.is_int ? nb::none() : nb::cast(a.choices);
            d["nullable"] = a.nullable;
            d["when"] = cond(a.when);
            attrs.append(d);
          }
          for (const auto& p : s.params) {
            nb::list dtypes;
            for (e::DType t : p.dtypes) dtypes.append(e::dtype_name(t));
            nb::dict d;
            d["role"] = p.role;
            d["dtypes"] = dtypes;
            d["value_range"] = p.ranged ? nb::cast(std::make_pair(p.lo, p.hi)) : nb::none();
            d["when"] = cond(p.when);
            params.append(d);
          }
          nb::object fixed_point = nb::none();
          if (s.fixed_point.present) {
            nb::list branches;
            for (const auto& b : s.fixed_point.branches) {
              nb::dict d;
              d["mults"] = b.mults;
              d["bias"] = b.bias;
              d["formula"] = b.formula;
              branches.append(d);
            }
            nb::dict d;
            d["bits"] = s.fixed_point.bits;
            d["input_range"] = std::make_pair(s.fixed_point.in_lo, s.fixed_point.in_hi);
            d["branches"] = branches;
            d["when"] = cond(s.fixed_point.when);
            fixed_point = d;
          }
          nb::dict d;
          d["type"] = s.type;
          d["kind"] = static_cast<int>(s.kind);
          d["inputs"] = s.variadic ? nb::cast(std::make_pair(s.inputs, nb::none())) : nb::cast(s.inputs);
          d["attrs"] = attrs;
          d["params"] = params;
          d["fixed_point"] = fixed_point;
          d["macs"] = s.macs;
          d["doc"] = s.doc;
          out.append(d);
        }
        return out;
      },
      "The native validator's op table, engine/op_manifest.h (tests compare it with "
      "bnnflow.graph.SCHEMAS and bnnflow.graph.fixedpoint.RULES).");
  nb::class_<NativeModel>(m, "NativeModel",
                          "A .bnn model loaded, validated, planned and bound by the native "
                          "executor (csrc/engine); bnnflow.runtime.Interpreter wraps it.")
      .def_static(
          "from_file",
          [](const std::string& path, int threads, const std::optional<std::string>& isa,
             std::optional<bool> fuse) {
            const e::ModelOptions o = options(threads, isa, fuse);
            nb::gil_scoped_release release;
            return NativeModel(e::Model::from_file(path, o));
          },
          "path"_a, "num_threads"_a = 1, "isa"_a = nb::none(), "fuse"_a = nb::none(),
          "Load, validate and prepare the .bnn file at path (fuse: None = the default, "
          "on unless BNNFLOW_FUSE=0).")
      .def_static(
          "from_bytes",
          [](nb::bytes data, int threads, const std::optional<std::string>& isa,
             std::optional<bool> fuse) {
            const e::ModelOptions o = options(threads, isa, fuse);
            return NativeModel(e::Model::from_buffer(data.c_str(), data.size(), o));
          },
          "data"_a, "num_threads"_a = 1, "isa"_a = nb::none(), "fuse"_a = nb::none(),
          "Load, validate and prepare a .bnn held in memory.")
      .def_prop_ro("isa", [](const NativeModel& s) { return std::string(bnnflow::isa_name(s.m().isa())); })
      .def_prop_ro("fused", [](const NativeModel& s) { return s.m().fused(); },
                   "Whether run() executes fused steps (docs/runtime.md).")
      .def_prop_rw(
          "num_threads", [](const NativeModel& s) { return s.m().num_threads(); },
          [](NativeModel& s, int n) { s.m().set_num_threads(n); })
      .def_prop_ro("input", [](const NativeModel& s) { return tensor_dict(s.m().input_info()); })
      .def_prop_ro("output", [](const NativeModel& s) { return tensor_dict(s.m().output_info()); })
      .def_prop_ro("tensors",
                   [](const NativeModel& s) {
                     nb::list out;
                     for (const auto& t : s.m().valid().tensors) out.append(tensor_dict(t));
                     return out;
                   },
                   "Every activation (the input first, then each op's output, in order).")
      .def_prop_ro("ops",
                   [](const NativeModel& s) {
                     nb::list out;
                     for (const auto& op : s.m().graph().ops) out.append(nb::make_tuple(op.name, op.type));
                     return out;
                   },
                   "(name, type) of every op, in graph order.")
      .def_prop_ro("steps",
                   [](const NativeModel& s) {
                     nb::list out;
                     for (const auto& st : s.m().steps()) out.append(nb::make_tuple(st.name, st.type));
                     return out;
                   },
                   "(name, type) of every step run() executes (fused ops are one step).")
      .def_prop_ro("graph_json",
                   [](const NativeModel& s) { return s.m().container().metadata.at("bnnflow.graph"); },
                   "The bnnflow.graph JSON document of the file.")
      .def_prop_ro("producer", [](const NativeModel& s) { return s.m().producer(); })
      .def_prop_ro("arena_bytes_per_sample", [](const NativeModel& s) { return s.m().arena_bytes_per_sample(); })
      .def_prop_ro("peak_activation_bytes", [](const NativeModel& s) { return s.m().peak_activation_bytes(); })
      .def_prop_ro("load_seconds", [](const NativeModel& s) { return s.m().timings().load_seconds; })
      .def_prop_ro("prepare_seconds", [](const NativeModel& s) { return s.m().timings().prepare_seconds; })
      .def("param", &param, "name"_a, "A container tensor as a read-only numpy array.")
      .def("run", [](const NativeModel& s, const Array& x) { return run(s, x, false); }, "x"_a,
           "float32 logits [N, classes] for the batch x (one native call, GIL released).")
      .def("run_profiled", [](const NativeModel& s, const Array& x) { return run(s, x, true); }, "x"_a,
           "(logits, seconds): the logits and the wall time of every step.")
      .def("run_all", &run_all, "x"_a, "Every activation (name -> array) of the per-op program.")
      .def("run_op", &run_op, "index"_a, "inputs"_a,
           "Op `index` alone on the given input arrays; returns its output.");
}
