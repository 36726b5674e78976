/* bnnflow-benchmark: time a .bnn model on the native runtime, no Python (in the spirit of
 * TFLite's benchmark_model).
 *
 *   bnnflow-benchmark MODEL.bnn [--threads N] [--batch N] [--runs N] [--warmup N]
 *                     [--profile] [--isa scalar|avx2|avx512|neon]
 *
 * Prints the load + validate + prepare time, the first run, median / min / max over --runs
 * timed runs (after --warmup untimed ones), with --profile a per-step table (median time of
 * each step and its share), and the process's peak resident memory. The input is random data
 * of the model's input dtype. Exit status 1 (with the runtime's message) for a bad file or
 * argument. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bnnflow/bnnflow.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static double median(double* v, size_t n) {
  qsort(v, n, sizeof(double), cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void usage(const char* argv0) {
  fprintf(stderr,
          "usage: %s MODEL.bnn [--threads N] [--batch N] [--runs N] [--warmup N] [--profile]"
          " [--isa scalar|avx2|avx512|neon]\n",
          argv0);
}

static int parse_int(const char* text, const char* flag, long lo, long hi, long* out) {
  char* end = NULL;
  const long v = strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "%s: expected an integer in [%ld, %ld], got '%s'\n", flag, lo, hi, text);
    return 0;
  }
  *out = v;
  return 1;
}

/* Random input of the model's dtype (finite floats in [-2, 2)). */
static void fill_input(void* data, size_t bytes, bnnflow_dtype dtype) {
  uint32_t s = 0x9E3779B9u;
  if (dtype == BNNFLOW_DTYPE_FLOAT32) {
    float* f = (float*)data;
    for (size_t i = 0; i < bytes / sizeof(float); ++i) {
      s = s * 1664525u + 1013904223u;
      f[i] = (float)((double)(s >> 8) / (double)(1u << 24) * 4.0 - 2.0);
    }
    return;
  }
  unsigned char* b = (unsigned char*)data;
  for (size_t i = 0; i < bytes; ++i) {
    s = s * 1664525u + 1013904223u;
    b[i] = (unsigned char)(s >> 24);
  }
}

static const char* dtype_name(bnnflow_dtype d) {
  switch (d) {
    case BNNFLOW_DTYPE_INT8: return "int8";
    case BNNFLOW_DTYPE_UINT8: return "uint8";
    case BNNFLOW_DTYPE_INT32: return "int32";
    case BNNFLOW_DTYPE_FLOAT32: return "float32";
    default: return "packed";
  }
}

int main(int argc, char** argv) {
  const char* path = NULL;
  long threads = 1, batch = 1, runs = 50, warmup = 2;
  int profile = 0;
  bnnflow_options opts;
  bnnflow_options_init(&opts);
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const int has_value = i + 1 < argc;
    if (strcmp(a, "--profile") == 0) {
      profile = 1;
    } else if (strcmp(a, "--threads") == 0 && has_value) {
      if (!parse_int(argv[++i], a, 1, 256, &threads)) return 2;
    } else if (strcmp(a, "--batch") == 0 && has_value) {
      if (!parse_int(argv[++i], a, 1, 1 << 20, &batch)) return 2;
    } else if (strcmp(a, "--runs") == 0 && has_value) {
      if (!parse_int(argv[++i], a, 1, 1 << 24, &runs)) return 2;
    } else if (strcmp(a, "--warmup") == 0 && has_value) {
      if (!parse_int(argv[++i], a, 0, 1 << 24, &warmup)) return 2;
    } else if (strcmp(a, "--isa") == 0 && has_value) {
      opts.isa = argv[++i];
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(argv[0]);
      return 0;
    } else if (a[0] == '-' || path != NULL) {
      usage(argv[0]);
      return 2;
    } else {
      path = a;
    }
  }
  if (path == NULL) {
    usage(argv[0]);
    return 2;
  }
  opts.num_threads = (int)threads;

  const double t0 = now();
  bnnflow_model* m = NULL;
  if (bnnflow_model_create_from_file(path, &opts, &m) != BNNFLOW_OK) {
    fprintf(stderr, "bnnflow-benchmark: %s\n", bnnflow_last_error());
    return 1;
  }
  const double load = now() - t0;
  bnnflow_tensor_spec in;
  bnnflow_model_input_spec(m, &in);
  const size_t n = (size_t)batch;
  const size_t in_bytes = bnnflow_model_input_bytes(m, n);
  void* input = malloc(in_bytes);
  float* output = (float*)malloc(bnnflow_model_output_bytes(m, n));
  const size_t steps = bnnflow_model_num_steps(m);
  double* step_times = (double*)calloc(steps * (size_t)runs + 1, sizeof(double));
  double* run_times = (double*)calloc((size_t)runs, sizeof(double));
  if (input == NULL || output == NULL || step_times == NULL || run_times == NULL) {
    fprintf(stderr, "bnnflow-benchmark: out of memory\n");
    return 1;
  }
  fill_input(input, in_bytes, in.dtype);

  printf("model: %s\n", path);
  printf("input: %s %s [%ld", in.name, dtype_name(in.dtype), batch);
  for (int d = 1; d < in.rank; ++d) printf(", %lld", (long long)in.shape[d]);
  printf("], classes: %lld\n", (long long)bnnflow_model_num_classes(m));
  printf("isa: %s, threads: %d, steps: %zu, arena: %zu bytes per sample\n", bnnflow_model_isa(m),
         bnnflow_model_num_threads(m), steps, bnnflow_model_arena_bytes(m));
  printf("load + validate + prepare: %.3f ms (read + validate %.3f ms, bind + plan %.3f ms)\n",
         1e3 * load, 1e3 * bnnflow_model_load_seconds(m), 1e3 * bnnflow_model_prepare_seconds(m));

  double t = now();
  if (bnnflow_model_run(m, input, n, output) != BNNFLOW_OK) {
    fprintf(stderr, "bnnflow-benchmark: %s\n", bnnflow_last_error());
    return 1;
  }
  printf("first run: %.3f ms\n", 1e3 * (now() - t));
  for (long i = 0; i < warmup; ++i) bnnflow_model_run(m, input, n, output);
  for (long r = 0; r < runs; ++r) {
    t = now();
    const bnnflow_status st =
        profile ? bnnflow_model_run_profiled(m, input, n, output, step_times + (size_t)r * steps)
                : bnnflow_model_run(m, input, n, output);
    run_times[r] = now() - t;
    if (st != BNNFLOW_OK) {
      fprintf(stderr, "bnnflow-benchmark: %s\n", bnnflow_last_error());
      return 1;
    }
  }
  double lo = run_times[0], hi = run_times[0];
  for (long r = 1; r < runs; ++r) {
    if (run_times[r] < lo) lo = run_times[r];
    if (run_times[r] > hi) hi = run_times[r];
  }
  const double med = median(run_times, (size_t)runs);
  printf("runs: %ld, median %.3f ms, min %.3f ms, max %.3f ms (batch %ld: %.3f ms per sample)\n",
         runs, 1e3 * med, 1e3 * lo, 1e3 * hi, batch, 1e3 * med / (double)batch);

  if (profile) {
    double* col = (double*)calloc((size_t)runs, sizeof(double));
    double* med_step = (double*)calloc(steps + 1, sizeof(double));
    double total = 0;
    for (size_t s = 0; s < steps; ++s) {
      for (long r = 0; r < runs; ++r) col[r] = step_times[(size_t)r * steps + s];
      med_step[s] = median(col, (size_t)runs);
      total += med_step[s];
    }
    /* The name last and whole: a fused step's is its ops' names joined with '+'. */
    printf("\n%4s  %-28s %10s %7s  %s\n", "#", "type", "median ms", "share", "name");
    for (size_t s = 0; s < steps; ++s) {
      printf("%4zu  %-28.28s %10.4f %6.1f%%  %s\n", s, bnnflow_model_step_type(m, s),
             1e3 * med_step[s], total > 0 ? 100.0 * med_step[s] / total : 0.0,
             bnnflow_model_step_name(m, s));
    }
    printf("sum of step medians: %.3f ms (whole-run median %.3f ms)\n\n", 1e3 * total, 1e3 * med);
    free(col);
    free(med_step);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("peak RSS: %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
  free(input);
  free(output);
  free(step_times);
  free(run_times);
  bnnflow_model_destroy(m);
  return 0;
}
