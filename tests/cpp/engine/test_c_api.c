/* The C API end to end, from C: load the committed fixtures (tests/cpp/engine/data, made by
 * make_fixtures.py), check the specs, run them on every ISA this CPU has and compare the logits
 * with the numpy reference's (int8 data-flow: identical; float: within 1e-5), and check that
 * bad files, bad arguments and bad inputs get error codes with messages. */
#define _POSIX_C_SOURCE 200112L /* setenv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnnflow/bnnflow.h"

static int failures = 0;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, \
              __LINE__, #cond, bnnflow_last_error());                        \
      ++failures;                                                            \
    }                                                                        \
  } while (0)

static void* read_all(const char* name, size_t* size) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", BNNFLOW_TEST_DATA, name);
  FILE* f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void* data = malloc(n > 0 ? (size_t)n : 1);
  if (fread(data, 1, (size_t)n, f) != (size_t)n) exit(2);
  fclose(f);
  *size = (size_t)n;
  return data;
}

/* Runs fixture `name` (batch 3) on `isa` with `threads`; returns the max |logit - reference| / max(1, |reference|). */
static double run_fixture(const char* name, const char* isa, int threads, int from_file) {
  char file[256], path[1024];
  size_t in_size, ref_size;
  snprintf(file, sizeof file, "%s.input", name);
  void* input = read_all(file, &in_size);
  snprintf(file, sizeof file, "%s.logits", name);
  float* ref = (float*)read_all(file, &ref_size);
  bnnflow_options opts;
  bnnflow_options_init(&opts);
  opts.num_threads = threads;
  opts.isa = isa;
  bnnflow_model* m = NULL;
  if (from_file) {
    snprintf(path, sizeof path, "%s/%s.bnn", BNNFLOW_TEST_DATA, name);
    CHECK(bnnflow_model_create_from_file(path, &opts, &m) == BNNFLOW_OK);
  } else {
    size_t size;
    snprintf(file, sizeof file, "%s.bnn", name);
    void* data = read_all(file, &size);
    CHECK(bnnflow_model_create_from_buffer(data, size, &opts, &m) == BNNFLOW_OK);
    free(data);  /* the model keeps its own copy */
  }
  double worst = INFINITY;
  if (m != NULL) {
    const size_t batch = 3;
    CHECK(bnnflow_model_input_bytes(m, batch) == in_size);
    CHECK(bnnflow_model_output_bytes(m, batch) == ref_size);
    CHECK(strcmp(bnnflow_model_isa(m), isa) == 0);
    CHECK(bnnflow_model_num_threads(m) == threads);
    float* out = (float*)malloc(ref_size);
    CHECK(bnnflow_model_run(m, input, batch, out) == BNNFLOW_OK);
    worst = 0;
    for (size_t i = 0; i < ref_size / sizeof(float); ++i) {
      const double scale = fabs((double)ref[i]) > 1.0 ? fabs((double)ref[i]) : 1.0;
      const double d = fabs((double)out[i] - (double)ref[i]) / scale;
      if (d > worst) worst = d;
    }
    /* profiled run: same logits, one time per step */
    const size_t steps = bnnflow_model_num_steps(m);
    double* secs = (double*)calloc(steps, sizeof(double));
    float* out2 = (float*)malloc(ref_size);
    CHECK(bnnflow_model_run_profiled(m, input, batch, out2, secs) == BNNFLOW_OK);
    CHECK(memcmp(out, out2, ref_size) == 0);
    for (size_t s = 0; s < steps; ++s) {
      CHECK(secs[s] >= 0);
      CHECK(bnnflow_model_step_name(m, s) != NULL && bnnflow_model_step_type(m, s) != NULL);
    }
    CHECK(bnnflow_model_step_name(m, steps) == NULL);
    free(secs);
    free(out2);
    free(out);
    bnnflow_model_destroy(m);
  }
  free(input);
  free(ref);
  return worst;
}

static void test_specs(void) {
  char path[1024];
  snprintf(path, sizeof path, "%s/tiny_int8.bnn", BNNFLOW_TEST_DATA);
  bnnflow_model* m = NULL;
  CHECK(bnnflow_model_create_from_file(path, NULL, &m) == BNNFLOW_OK);
  if (m == NULL) return;
  bnnflow_tensor_spec in, out;
  CHECK(bnnflow_model_input_spec(m, &in) == BNNFLOW_OK);
  CHECK(strcmp(in.name, "image") == 0 && in.dtype == BNNFLOW_DTYPE_UINT8 && in.rank == 4);
  CHECK(in.shape[0] == -1 && in.shape[1] == 8 && in.shape[2] == 8 && in.shape[3] == 1);
  CHECK(bnnflow_model_output_spec(m, &out) == BNNFLOW_OK);
  CHECK(out.dtype == BNNFLOW_DTYPE_FLOAT32 && out.rank == 2 && out.shape[1] == 10);
  CHECK(bnnflow_model_num_classes(m) == 10);
  CHECK(strcmp(bnnflow_model_class_name(m, 3), "3") == 0);
  CHECK(bnnflow_model_class_name(m, 10) == NULL);
  CHECK(bnnflow_model_arena_bytes(m) > 0);
  CHECK(bnnflow_model_load_seconds(m) >= 0 && bnnflow_model_prepare_seconds(m) >= 0);
  CHECK(bnnflow_model_set_num_threads(m, 3) == BNNFLOW_OK && bnnflow_model_num_threads(m) == 3);
  CHECK(bnnflow_model_set_num_threads(m, 0) == BNNFLOW_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(bnnflow_last_error(), "num_threads") != NULL);
  /* bad runs */
  unsigned char pixels[64] = {0};
  float logits[10];
  CHECK(bnnflow_model_run(m, pixels, 0, logits) == BNNFLOW_ERROR_INVALID_ARGUMENT);
  CHECK(bnnflow_model_run(m, NULL, 1, logits) == BNNFLOW_ERROR_INVALID_ARGUMENT);
  CHECK(bnnflow_model_run(m, pixels, 1, NULL) == BNNFLOW_ERROR_INVALID_ARGUMENT);
  CHECK(bnnflow_model_run(NULL, pixels, 1, logits) == BNNFLOW_ERROR_INVALID_ARGUMENT);
  CHECK(bnnflow_model_run(m, pixels, 1, logits) == BNNFLOW_OK);
  /* sizes of batches run() refuses are 0, never a wrapped product */
  CHECK(bnnflow_model_input_bytes(m, 0) == 0 && bnnflow_model_output_bytes(m, 0) == 0);
  CHECK(bnnflow_model_input_bytes(m, (size_t)-1 / 64 + 2) == 0);
  CHECK(bnnflow_model_output_bytes(m, (size_t)-1 / 40 + 2) == 0);
  CHECK(bnnflow_model_input_bytes(m, 1000) == 64000 && bnnflow_model_output_bytes(m, 2) == 80);
  bnnflow_model_destroy(m);
}

/* BNNFLOW_ISA naming an ISA this CPU lacks is BNNFLOW_ERROR_UNSUPPORTED (as opts.isa is), an
 * unknown name an invalid argument that names the variable. */
static void test_isa_environment_variable(void) {
  static const char* isas[] = {"neon", "avx512", "avx2"};
  char path[1024];
  snprintf(path, sizeof path, "%s/tiny_int8.bnn", BNNFLOW_TEST_DATA);
  bnnflow_model* m = NULL;
  for (int i = 0; i < 3; ++i) {
    if (bnnflow_isa_supported(isas[i])) continue;
    setenv("BNNFLOW_ISA", isas[i], 1);
    CHECK(bnnflow_model_create_from_file(path, NULL, &m) == BNNFLOW_ERROR_UNSUPPORTED);
    CHECK(m == NULL && strstr(bnnflow_last_error(), "BNNFLOW_ISA") != NULL);
    break;
  }
  setenv("BNNFLOW_ISA", "bogus", 1);
  CHECK(bnnflow_model_create_from_file(path, NULL, &m) == BNNFLOW_ERROR_INVALID_ARGUMENT);
  CHECK(m == NULL && strstr(bnnflow_last_error(), "BNNFLOW_ISA") != NULL);
  unsetenv("BNNFLOW_ISA");
}

static void test_bad_files(void) {
  bnnflow_model* m = (bnnflow_model*)&failures; /* must be reset to NULL on failure */
  CHECK(bnnflow_model_create_from_file("/nonexistent/x.bnn", NULL, &m) == BNNFLOW_ERROR_IO);
  CHECK(m == NULL && strlen(bnnflow_last_error()) > 0);
  CHECK(bnnflow_model_create_from_file(BNNFLOW_TEST_DATA, NULL, &m) == BNNFLOW_ERROR_IO);
  CHECK(bnnflow_model_create_from_buffer("", 0, NULL, &m) == BNNFLOW_ERROR_FORMAT);
  CHECK(strstr(bnnflow_last_error(), "shorter than the 8-byte") != NULL);
  CHECK(bnnflow_model_create_from_buffer("PK\3\4 zip data ..", 16, NULL, &m) ==
        BNNFLOW_ERROR_FORMAT);
  CHECK(strstr(bnnflow_last_error(), "PyTorch checkpoint") != NULL);
  size_t size;
  unsigned char* data = (unsigned char*)read_all("tiny_int8.bnn", &size);
  /* every truncation is a format error, never a crash */
  for (size_t n = 0; n < size; n += 97) {
    CHECK(bnnflow_model_create_from_buffer(data, n, NULL, &m) == BNNFLOW_ERROR_FORMAT);
    CHECK(m == NULL);
  }
  /* flipped bytes: an error or a model that runs */
  unsigned seed = 12345;
  unsigned char pixels[64] = {7};
  float logits[10];
  int ok = 0, errors = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    unsigned char* copy = (unsigned char*)malloc(size);
    memcpy(copy, data, size);
    for (int k = 0; k < 4; ++k) {
      seed = seed * 1103515245u + 12345u;
      copy[(seed >> 8) % size] ^= (unsigned char)(1 + (seed >> 3) % 255);
    }
    bnnflow_status st = bnnflow_model_create_from_buffer(copy, size, NULL, &m);
    free(copy);
    if (st == BNNFLOW_OK) {
      ++ok;
      if (bnnflow_model_input_bytes(m, 1) <= sizeof pixels && bnnflow_model_num_classes(m) <= 10) {
        CHECK(bnnflow_model_run(m, pixels, 1, logits) == BNNFLOW_OK);
      }
      bnnflow_model_destroy(m);
    } else {
      ++errors;
      CHECK(st == BNNFLOW_ERROR_FORMAT && strlen(bnnflow_last_error()) > 0);
    }
  }
  printf("flipped bytes: %d loaded, %d refused\n", ok, errors);
  free(data);
  bnnflow_options opts;
  bnnflow_options_init(&opts);
  opts.isa = "mmx";
  CHECK(bnnflow_model_create_from_buffer("", 0, &opts, &m) == BNNFLOW_ERROR_INVALID_ARGUMENT);
  opts.isa = NULL;
  opts.num_threads = 1000;
  CHECK(bnnflow_model_create_from_buffer("", 0, &opts, &m) == BNNFLOW_ERROR_INVALID_ARGUMENT);
}

/* options.fuse: BNNFLOW_FUSE_OFF runs one step per op, BNNFLOW_FUSE_ON the fused program, a
 * zero-initialised struct the default (fused here), all with identical logits; other values
 * are refused. */
static void test_fuse_option(void) {
  char path[1024];
  size_t in_size, ref_size;
  snprintf(path, sizeof path, "%s/tiny_int8.bnn", BNNFLOW_TEST_DATA);
  void* input = read_all("tiny_int8.input", &in_size);
  float* ref = (float*)read_all("tiny_int8.logits", &ref_size);
  size_t steps[3] = {0, 0, 0};
  static const int modes[3] = {BNNFLOW_FUSE_OFF, BNNFLOW_FUSE_ON, BNNFLOW_FUSE_DEFAULT};
  for (int i = 0; i < 3; ++i) {
    bnnflow_options opts;
    bnnflow_options_init(&opts);
    CHECK(opts.fuse == BNNFLOW_FUSE_DEFAULT);
    if (i == 2) { /* zero-initialised but for the thread count: the defaults */
      memset(&opts, 0, sizeof opts);
      opts.num_threads = 1;
    }
    opts.fuse = modes[i];
    bnnflow_model* m = NULL;
    CHECK(bnnflow_model_create_from_file(path, &opts, &m) == BNNFLOW_OK);
    if (m == NULL) continue;
    steps[i] = bnnflow_model_num_steps(m);
    float* out = (float*)malloc(ref_size);
    CHECK(bnnflow_model_run(m, input, 3, out) == BNNFLOW_OK);
    CHECK(memcmp(out, ref, ref_size) == 0);
    free(out);
    bnnflow_model_destroy(m);
  }
  printf("tiny_int8: %zu steps unfused, %zu fused, %zu default\n", steps[0], steps[1],
         steps[2]);
  CHECK(steps[1] > 0 && steps[1] < steps[0]);
  CHECK(getenv("BNNFLOW_FUSE") != NULL || steps[2] == steps[1]);
  bnnflow_options opts;
  bnnflow_options_init(&opts);
  opts.fuse = 3;
  bnnflow_model* m = NULL;
  CHECK(bnnflow_model_create_from_file(path, &opts, &m) == BNNFLOW_ERROR_INVALID_ARGUMENT);
  CHECK(m == NULL && strstr(bnnflow_last_error(), "fuse must be") != NULL);
  free(input);
  free(ref);
}

static void test_float_input_must_be_finite(void) {
  char path[1024];
  snprintf(path, sizeof path, "%s/tiny_float.bnn", BNNFLOW_TEST_DATA);
  bnnflow_model* m = NULL;
  CHECK(bnnflow_model_create_from_file(path, NULL, &m) == BNNFLOW_OK);
  if (m == NULL) return;
  float x[6 * 6 * 3] = {0};
  float logits[4];
  x[5] = NAN;
  CHECK(bnnflow_model_run(m, x, 1, logits) == BNNFLOW_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(bnnflow_last_error(), "non-finite") != NULL);
  bnnflow_model_destroy(m);
}

int main(void) {
  static const char* isas[] = {"scalar", "avx2", "avx512", "neon"};
  CHECK(strcmp(bnnflow_version(), "0.1.0") == 0);
  CHECK(bnnflow_isa_supported("scalar") == 1 && bnnflow_isa_supported("bogus") == 0);
  for (int i = 0; i < 4; ++i) {
    if (!bnnflow_isa_supported(isas[i])) continue;
    for (int threads = 1; threads <= 2; ++threads) {
      const double d8 = run_fixture("tiny_int8", isas[i], threads, threads == 1);
      const double df = run_fixture("tiny_float", isas[i], threads, threads == 2);
      printf("%-6s threads=%d: int8 max |diff| %g, float max |diff| %g\n", isas[i], threads, d8, df);
      CHECK(d8 == 0.0);
      CHECK(df <= 1e-5);
    }
  }
  test_specs();
  test_bad_files();
  test_float_input_must_be_finite();
  test_fuse_option();
  test_isa_environment_variable();
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures ? 1 : 0;
}
