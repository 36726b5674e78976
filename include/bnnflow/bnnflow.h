/* bnnflow C API: load a .bnn model and run it, no Python (docs/deploy.md).
 *
 *   bnnflow_model* m = NULL;
 *   if (bnnflow_model_create_from_file("model.bnn", NULL, &m) != BNNFLOW_OK) {
 *     fprintf(stderr, "%s\n", bnnflow_last_error());
 *     return 1;
 *   }
 *   bnnflow_tensor_spec in;
 *   bnnflow_model_input_spec(m, &in);           // e.g. uint8 [-1, 224, 224, 3]
 *   float* logits = malloc(bnnflow_model_output_bytes(m, 1));
 *   bnnflow_model_run(m, pixels, 1, logits);    // pixels: 224*224*3 bytes, NHWC
 *   bnnflow_model_destroy(m);
 *
 * C99, opaque handles, no C++ exception crosses this interface. Every function that can fail
 * returns a bnnflow_status; the message of the calling thread's last failure is
 * bnnflow_last_error() (thread-local; valid until that thread's next failing call).
 * Loading validates the whole file (container, graph, op schemas, params, shapes, fixed-point
 * overflow rules) before anything runs: a bad file is BNNFLOW_ERROR_FORMAT with a message
 * naming the op / tensor and the rule, never a crash.
 * Thread safety: bnnflow_model_run* may be called from several threads at once on one model.
 */
#ifndef BNNFLOW_BNNFLOW_H_
#define BNNFLOW_BNNFLOW_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(BNNFLOW_SHARED)
#if defined(BNNFLOW_BUILDING)
#define BNNFLOW_API __declspec(dllexport)
#else
#define BNNFLOW_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define BNNFLOW_API __attribute__((visibility("default")))
#else
#define BNNFLOW_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define BNNFLOW_VERSION_MAJOR 0
#define BNNFLOW_VERSION_MINOR 1
#define BNNFLOW_VERSION_PATCH 0

typedef enum bnnflow_status {
  BNNFLOW_OK = 0,
  BNNFLOW_ERROR_FORMAT = 1,           /* the .bnn file breaks a rule (message says which) */
  BNNFLOW_ERROR_INVALID_ARGUMENT = 2, /* NULL pointer, batch 0, thread count, non-finite input */
  BNNFLOW_ERROR_IO = 3,               /* the file cannot be read */
  BNNFLOW_ERROR_UNSUPPORTED = 4,      /* an ISA this CPU or build cannot run */
  BNNFLOW_ERROR_OUT_OF_MEMORY = 5,
  BNNFLOW_ERROR_INTERNAL = 6
} bnnflow_status;

typedef enum bnnflow_dtype {
  BNNFLOW_DTYPE_INT8 = 0,
  BNNFLOW_DTYPE_UINT8 = 1,
  BNNFLOW_DTYPE_INT32 = 2,
  BNNFLOW_DTYPE_FLOAT32 = 3,
  BNNFLOW_DTYPE_PACKED = 4 /* uint32 words of sign bits */
} bnnflow_dtype;

/* An activation tensor: shape[0] is -1 (the batch), rank 2 ([N, C]) or 4 (NHWC). `name` is
 * owned by the model. */
typedef struct bnnflow_tensor_spec {
  const char* name;
  bnnflow_dtype dtype;
  int rank;
  int64_t shape[4];
} bnnflow_tensor_spec;

/* bnnflow_options.fuse. 0 is the default, so a zero-initialised struct gets it. */
enum { BNNFLOW_FUSE_DEFAULT = 0, BNNFLOW_FUSE_ON = 1, BNNFLOW_FUSE_OFF = 2 };

/* Before 1.0 the layout of this struct may change between releases (fields are added at the
 * end): rebuild against the header of the library you link. */
typedef struct bnnflow_options {
  int num_threads; /* engine threads per op, 1..256 (default 1) */
  const char* isa; /* "scalar", "avx2", "avx512", "neon" or NULL: the best this CPU runs
                      (or the BNNFLOW_ISA environment variable) */
  int fuse;        /* fused steps (docs/runtime.md, "Fused steps"): BNNFLOW_FUSE_DEFAULT (0:
                      the BNNFLOW_FUSE environment variable, "0" or "1", else on),
                      BNNFLOW_FUSE_ON or BNNFLOW_FUSE_OFF (one step per op; identical outputs) */
} bnnflow_options;

typedef struct bnnflow_model bnnflow_model;

/* "0.1.0" */
BNNFLOW_API const char* bnnflow_version(void);
/* The calling thread's last error message ("" if none). */
BNNFLOW_API const char* bnnflow_last_error(void);
/* Defaults: 1 thread, the best ISA, BNNFLOW_FUSE_DEFAULT. */
BNNFLOW_API void bnnflow_options_init(bnnflow_options* options);
/* 1 if this CPU (and build) runs `isa`, else 0. */
BNNFLOW_API int bnnflow_isa_supported(const char* isa);

/* Load, validate and prepare a model. `options` may be NULL (the defaults). On success *model
 * is a new model to free with bnnflow_model_destroy; on failure it is NULL. */
BNNFLOW_API bnnflow_status bnnflow_model_create_from_file(const char* path,
                                                          const bnnflow_options* options,
                                                          bnnflow_model** model);
/* The same from `size` bytes at `data` (copied: the buffer may be freed afterwards). */
BNNFLOW_API bnnflow_status bnnflow_model_create_from_buffer(const void* data, size_t size,
                                                            const bnnflow_options* options,
                                                            bnnflow_model** model);
BNNFLOW_API void bnnflow_model_destroy(bnnflow_model* model);

BNNFLOW_API bnnflow_status bnnflow_model_input_spec(const bnnflow_model* model,
                                                    bnnflow_tensor_spec* spec);
/* The logits: float32 [-1, classes]. */
BNNFLOW_API bnnflow_status bnnflow_model_output_spec(const bnnflow_model* model,
                                                     bnnflow_tensor_spec* spec);
BNNFLOW_API int64_t bnnflow_model_num_classes(const bnnflow_model* model);
/* Name of class `index` (NULL if the file has no class names or index is out of range). */
BNNFLOW_API const char* bnnflow_model_class_name(const bnnflow_model* model, int64_t index);
/* Bytes of the input / output of a batch of `batch` samples; 0 when bnnflow_model_run would
 * refuse the batch (0, or so large that batch x the arena would pass 2^40 bytes). */
BNNFLOW_API size_t bnnflow_model_input_bytes(const bnnflow_model* model, size_t batch);
BNNFLOW_API size_t bnnflow_model_output_bytes(const bnnflow_model* model, size_t batch);
/* Bytes of the activation arena per sample (what a run allocates, times the batch). */
BNNFLOW_API size_t bnnflow_model_arena_bytes(const bnnflow_model* model);
/* The ISA the model's kernels were prepared for. */
BNNFLOW_API const char* bnnflow_model_isa(const bnnflow_model* model);
BNNFLOW_API int bnnflow_model_num_threads(const bnnflow_model* model);
/* Threads for later runs (1..256). */
BNNFLOW_API bnnflow_status bnnflow_model_set_num_threads(bnnflow_model* model, int num_threads);
/* Seconds spent reading + validating, and binding kernels + planning, at creation. */
BNNFLOW_API double bnnflow_model_load_seconds(const bnnflow_model* model);
BNNFLOW_API double bnnflow_model_prepare_seconds(const bnnflow_model* model);

/* Run `batch` samples: `input` holds bnnflow_model_input_bytes(model, batch) bytes of the
 * input spec's dtype in C order (NHWC); `output` receives batch * classes float32 logits.
 * float32 inputs must be finite. */
BNNFLOW_API bnnflow_status bnnflow_model_run(const bnnflow_model* model, const void* input,
                                             size_t batch, float* output);

/* Per-step profile. A step is one op, or a fused pair of ops (conv2d_int8+requant32). */
BNNFLOW_API size_t bnnflow_model_num_steps(const bnnflow_model* model);
BNNFLOW_API const char* bnnflow_model_step_name(const bnnflow_model* model, size_t step);
BNNFLOW_API const char* bnnflow_model_step_type(const bnnflow_model* model, size_t step);
/* bnnflow_model_run that also stores the wall time of every step in seconds into
 * step_seconds[0 .. bnnflow_model_num_steps(model)). */
BNNFLOW_API bnnflow_status bnnflow_model_run_profiled(const bnnflow_model* model,
                                                      const void* input, size_t batch,
                                                      float* output, double* step_seconds);

#ifdef __cplusplus
}
#endif

#endif /* BNNFLOW_BNNFLOW_H_ */
