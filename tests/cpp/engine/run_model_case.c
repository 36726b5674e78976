/* Runs one whole-model case of make_model_cases.py on the C API and compares its logits with
 * the numpy reference's (ctest model_case.*, also under qemu-aarch64):
 *
 *   run_model_case CASE.bnn CASE.input CASE.logits --isa ISA [--threads N] (--exact | --rtol R)
 *
 * The batch is the input file's size over one sample's input bytes. --exact: every logit
 * bit-identical (the int8 data-flow); --rtol R: |got - ref| <= R * |ref| + R * max(1, max |ref|)
 * for every logit, the tolerance of the Python tests (the float data-flow). The model is loaded
 * with the ISA forced through bnnflow_options; exit status 77 (ctest's skip) when this CPU or
 * build does not run it, 1 for a mismatch or any error, 0 when every logit passes. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bnnflow/bnnflow.h"

enum { SKIP = 77 };

static void usage(const char* argv0) {
  fprintf(stderr,
          "usage: %s CASE.bnn CASE.input CASE.logits --isa ISA [--threads N]"
          " (--exact | --rtol R)\n",
          argv0);
}

/* The whole file at `path` (NULL, with a message, when it cannot be read). */
static void* read_all(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "%s: cannot open\n", path);
    return NULL;
  }
  void* data = NULL;
  long n = -1;
  if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
  if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) {
    data = malloc(n > 0 ? (size_t)n : 1);
    if (data != NULL && fread(data, 1, (size_t)n, f) != (size_t)n) {
      free(data);
      data = NULL;
    }
  }
  fclose(f);
  if (data == NULL) fprintf(stderr, "%s: cannot read\n", path);
  *size = (size_t)n;
  return data;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
  const char *model, *input, *logits, *isa;
  int threads;
  int exact;
  double rtol;
} args_t;

static int parse_args(int argc, char** argv, args_t* a) {
  int positional = 0, have_check = 0;
  a->threads = 1;
  a->isa = NULL;
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    const int has_value = i + 1 < argc;
    char* end = NULL;
    if (strcmp(arg, "--isa") == 0 && has_value) {
      a->isa = argv[++i];
    } else if (strcmp(arg, "--threads") == 0 && has_value) {
      a->threads = (int)strtol(argv[++i], &end, 10);
      if (*end != '\0' || a->threads < 1) return 0;
    } else if (strcmp(arg, "--exact") == 0) {
      a->exact = 1;
      ++have_check;
    } else if (strcmp(arg, "--rtol") == 0 && has_value) {
      a->rtol = strtod(argv[++i], &end);
      if (*end != '\0' || !(a->rtol > 0)) return 0;
      ++have_check;
    } else if (arg[0] != '-' && positional < 3) {
      const char** slot[3] = {&a->model, &a->input, &a->logits};
      *slot[positional++] = arg;
    } else {
      return 0;
    }
  }
  return positional == 3 && have_check == 1 && a->isa != NULL;
}

/* Compares n logits; prints the verdict and returns the number of failing logits. */
static size_t compare(const float* got, const float* ref, size_t n, size_t classes,
                      const args_t* a) {
  double peak = 1.0, worst = 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (fabs((double)ref[i]) > peak) peak = fabs((double)ref[i]);
  }
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    const double ref_i = (double)ref[i], d = fabs((double)got[i] - ref_i);
    const int ok = a->exact ? memcmp(&got[i], &ref[i], sizeof(float)) == 0
                            : isfinite(got[i]) && d <= a->rtol * (fabs(ref_i) + peak);
    if (isfinite(d) && d > worst) worst = d;
    if (!ok && bad++ < 5) {
      fprintf(stderr, "  sample %zu class %zu: got %.9g, reference %.9g\n", i / classes,
              i % classes, (double)got[i], ref_i);
    }
  }
  printf("%zu logits, %zu outside %s (max |diff| %.3g, reference max |logit| %.3g)\n", n, bad,
         a->exact ? "bit-identity" : "the tolerance", worst, peak);
  return bad;
}

static int run_case(const args_t* a, const void* input, size_t in_size, const float* ref,
                    size_t ref_size) {
  bnnflow_options opts;
  bnnflow_options_init(&opts);
  opts.isa = a->isa;
  opts.num_threads = a->threads;
  bnnflow_model* m = NULL;
  if (bnnflow_model_create_from_file(a->model, &opts, &m) != BNNFLOW_OK) {
    fprintf(stderr, "%s: %s\n", a->model, bnnflow_last_error());
    return 1;
  }
  int rc = 1;
  const size_t sample = bnnflow_model_input_bytes(m, 1);
  const size_t batch = sample ? in_size / sample : 0;
  const size_t classes = (size_t)bnnflow_model_num_classes(m);
  float* out = NULL;
  if (batch == 0 || batch * sample != in_size) {
    fprintf(stderr, "%s: %zu bytes, not a whole batch of %zu-byte samples\n", a->input,
            in_size, sample);
  } else if (bnnflow_model_output_bytes(m, batch) != ref_size) {
    fprintf(stderr, "%s: %zu bytes, expected %zu (%zu x %zu float32 logits)\n", a->logits,
            ref_size, bnnflow_model_output_bytes(m, batch), batch, classes);
  } else if (strcmp(bnnflow_model_isa(m), a->isa) != 0) {
    fprintf(stderr, "asked for ISA %s, the model runs %s\n", a->isa, bnnflow_model_isa(m));
  } else if ((out = (float*)malloc(ref_size)) == NULL) {
    fprintf(stderr, "out of memory\n");
  } else {
    const double start = now();
    if (bnnflow_model_run(m, input, batch, out) != BNNFLOW_OK) {
      fprintf(stderr, "run: %s\n", bnnflow_last_error());
    } else {
      printf("%s: %zu samples on %s, %d thread(s), %zu steps, run %.3f s\n", a->model, batch,
             bnnflow_model_isa(m), a->threads, bnnflow_model_num_steps(m), now() - start);
      rc = compare(out, ref, ref_size / sizeof(float), classes, a) == 0 ? 0 : 1;
    }
  }
  free(out);
  bnnflow_model_destroy(m);
  return rc;
}

int main(int argc, char** argv) {
  args_t a = {0};
  if (!parse_args(argc, argv, &a)) {
    usage(argv[0]);
    return 1;
  }
  const char* isas[] = {"scalar", "avx2", "avx512", "neon"};
  int known = 0;
  for (size_t i = 0; i < sizeof isas / sizeof isas[0]; ++i) known |= strcmp(a.isa, isas[i]) == 0;
  if (!known) {
    fprintf(stderr, "--isa %s: expected scalar, avx2, avx512 or neon\n", a.isa);
    return 1;
  }
  if (!bnnflow_isa_supported(a.isa)) {
    printf("ISA %s: not run by this CPU / build, skipped\n", a.isa);
    return SKIP;
  }
  size_t in_size = 0, ref_size = 0;
  void* input = read_all(a.input, &in_size);
  float* ref = (float*)read_all(a.logits, &ref_size);
  const int rc = input && ref ? run_case(&a, input, in_size, ref, ref_size) : 1;
  free(input);
  free(ref);
  return rc;
}
