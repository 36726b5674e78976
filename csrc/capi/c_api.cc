// The C API (include/bnnflow/bnnflow.h) over engine::Model: every entry point catches
// everything, so no C++ exception crosses the interface; the message goes to a thread-local.
#include "bnnflow/bnnflow.h"

#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "engine/error.h"
#include "engine/model.h"

namespace e = bnnflow::engine;

struct bnnflow_model {
  std::unique_ptr<e::Model> m;
};

namespace {

thread_local std::string g_last_error;

bnnflow_status fail(bnnflow_status status, const std::string& message) {
  g_last_error = message;
  return status;
}

template <class Fn>
bnnflow_status guarded(Fn&& fn) {
  try {
    fn();
    return BNNFLOW_OK;
  } catch (const e::Error& err) {
    switch (err.kind()) {
      case e::ErrorKind::kFormat: return fail(BNNFLOW_ERROR_FORMAT, err.what());
      case e::ErrorKind::kInput: return fail(BNNFLOW_ERROR_INVALID_ARGUMENT, err.what());
      case e::ErrorKind::kIo: return fail(BNNFLOW_ERROR_IO, err.what());
      case e::ErrorKind::kUnsupported: return fail(BNNFLOW_ERROR_UNSUPPORTED, err.what());
    }
    return fail(BNNFLOW_ERROR_INTERNAL, err.what());
  } catch (const std::bad_alloc&) {
    return fail(BNNFLOW_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::invalid_argument& err) {
    return fail(BNNFLOW_ERROR_INVALID_ARGUMENT, err.what());
  } catch (const std::exception& err) {
    return fail(BNNFLOW_ERROR_INTERNAL, err.what());
  } catch (...) {
    return fail(BNNFLOW_ERROR_INTERNAL, "unknown error");
  }
}

e::ModelOptions to_options(const bnnflow_options* o) {
  e::ModelOptions opts;
  if (o == nullptr) return opts;
  opts.num_threads = o->num_threads;
  if (o->isa != nullptr) {
    bnnflow::Isa isa;
    try {
      isa = bnnflow::parse_isa(o->isa);
    } catch (const std::invalid_argument&) {
      e::input_error(std::string("isa must be one of scalar, avx2, avx512, neon, got '") +
                     o->isa + "'");
    }
    if (!bnnflow::isa_supported(isa)) {
      throw e::Error(e::ErrorKind::kUnsupported,
                     std::string("isa '") + o->isa + "' is not supported by this CPU");
    }
    opts.isa = isa;
  }
  if (o->fuse != BNNFLOW_FUSE_DEFAULT && o->fuse != BNNFLOW_FUSE_ON &&
      o->fuse != BNNFLOW_FUSE_OFF) {
    e::input_error("fuse must be BNNFLOW_FUSE_DEFAULT (0), BNNFLOW_FUSE_ON (1) or "
                   "BNNFLOW_FUSE_OFF (2), got " + std::to_string(o->fuse));
  }
  if (o->fuse != BNNFLOW_FUSE_DEFAULT) opts.fuse = o->fuse == BNNFLOW_FUSE_ON;
  return opts;
}

void fill(const e::TensorInfo& t, bnnflow_tensor_spec* spec) {
  spec->name = t.name.c_str();
  spec->rank = static_cast<int>(t.shape.size());
  for (int i = 0; i < 4; ++i) spec->shape[i] = i < spec->rank ? t.shape[static_cast<std::size_t>(i)] : 0;
  switch (t.dtype) {
    case e::ActDType::kInt8: spec->dtype = BNNFLOW_DTYPE_INT8; break;
    case e::ActDType::kUint8: spec->dtype = BNNFLOW_DTYPE_UINT8; break;
    case e::ActDType::kInt32: spec->dtype = BNNFLOW_DTYPE_INT32; break;
    case e::ActDType::kFloat32: spec->dtype = BNNFLOW_DTYPE_FLOAT32; break;
    case e::ActDType::kPacked: spec->dtype = BNNFLOW_DTYPE_PACKED; break;
  }
}

void need(const void* p, const char* what) {
  if (p == nullptr) e::input_error(std::string(what) + " is NULL");
}

}  // namespace

extern "C" {

const char* bnnflow_version(void) { return "0.1.0"; }

const char* bnnflow_last_error(void) { return g_last_error.c_str(); }

void bnnflow_options_init(bnnflow_options* options) {
  if (options == nullptr) return;
  options->num_threads = 1;
  options->isa = nullptr;
  options->fuse = BNNFLOW_FUSE_DEFAULT;
}

int bnnflow_isa_supported(const char* isa) {
  if (isa == nullptr) return 0;
  try {
    return bnnflow::isa_supported(bnnflow::parse_isa(isa)) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

bnnflow_status bnnflow_model_create_from_file(const char* path, const bnnflow_options* options,
                                              bnnflow_model** model) {
  if (model != nullptr) *model = nullptr;
  return guarded([&] {
    need(path, "path");
    need(model, "model");
    auto m = e::Model::from_file(path, to_options(options));
    *model = new bnnflow_model{std::move(m)};
  });
}

bnnflow_status bnnflow_model_create_from_buffer(const void* data, size_t size,
                                                const bnnflow_options* options,
                                                bnnflow_model** model) {
  if (model != nullptr) *model = nullptr;
  return guarded([&] {
    need(model, "model");
    auto m = e::Model::from_buffer(data, size, to_options(options));
    *model = new bnnflow_model{std::move(m)};
  });
}

void bnnflow_model_destroy(bnnflow_model* model) { delete model; }

bnnflow_status bnnflow_model_input_spec(const bnnflow_model* model, bnnflow_tensor_spec* spec) {
  return guarded([&] {
    need(model, "model");
    need(spec, "spec");
    fill(model->m->input_info(), spec);
  });
}

bnnflow_status bnnflow_model_output_spec(const bnnflow_model* model, bnnflow_tensor_spec* spec) {
  return guarded([&] {
    need(model, "model");
    need(spec, "spec");
    fill(model->m->output_info(), spec);
  });
}

int64_t bnnflow_model_num_classes(const bnnflow_model* model) {
  return model == nullptr ? 0 : model->m->graph().output.classes;
}

const char* bnnflow_model_class_name(const bnnflow_model* model, int64_t index) {
  if (model == nullptr) return nullptr;
  const auto& names = model->m->graph().output.class_names;
  if (!names || index < 0 || index >= static_cast<int64_t>(names->size())) return nullptr;
  return (*names)[static_cast<std::size_t>(index)].c_str();
}

size_t bnnflow_model_input_bytes(const bnnflow_model* model, size_t batch) {
  return model == nullptr ? 0 : model->m->input_bytes(batch);
}

size_t bnnflow_model_output_bytes(const bnnflow_model* model, size_t batch) {
  return model == nullptr ? 0 : model->m->output_bytes(batch);
}

size_t bnnflow_model_arena_bytes(const bnnflow_model* model) {
  return model == nullptr ? 0 : model->m->arena_bytes_per_sample();
}

const char* bnnflow_model_isa(const bnnflow_model* model) {
  return model == nullptr ? "" : bnnflow::isa_name(model->m->isa());
}

int bnnflow_model_num_threads(const bnnflow_model* model) {
  return model == nullptr ? 0 : model->m->num_threads();
}

bnnflow_status bnnflow_model_set_num_threads(bnnflow_model* model, int num_threads) {
  return guarded([&] {
    need(model, "model");
    model->m->set_num_threads(num_threads);
  });
}

double bnnflow_model_load_seconds(const bnnflow_model* model) {
  return model == nullptr ? 0.0 : model->m->timings().load_seconds;
}

double bnnflow_model_prepare_seconds(const bnnflow_model* model) {
  return model == nullptr ? 0.0 : model->m->timings().prepare_seconds;
}

bnnflow_status bnnflow_model_run(const bnnflow_model* model, const void* input, size_t batch,
                                 float* output) {
  return guarded([&] {
    need(model, "model");
    model->m->run(input, batch, output);
  });
}

size_t bnnflow_model_num_steps(const bnnflow_model* model) {
  return model == nullptr ? 0 : model->m->steps().size();
}

const char* bnnflow_model_step_name(const bnnflow_model* model, size_t step) {
  if (model == nullptr || step >= model->m->steps().size()) return nullptr;
  return model->m->steps()[step].name.c_str();
}

const char* bnnflow_model_step_type(const bnnflow_model* model, size_t step) {
  if (model == nullptr || step >= model->m->steps().size()) return nullptr;
  return model->m->steps()[step].type.c_str();
}

bnnflow_status bnnflow_model_run_profiled(const bnnflow_model* model, const void* input,
                                          size_t batch, float* output, double* step_seconds) {
  return guarded([&] {
    need(model, "model");
    need(step_seconds, "step_seconds");
    std::vector<double> seconds;
    model->m->run(input, batch, output, &seconds);
    std::memcpy(step_seconds, seconds.data(), seconds.size() * sizeof(double));
  });
}

}  // extern "C"
