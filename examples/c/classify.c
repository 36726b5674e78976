/* Classify an image with a .bnn model through the bnnflow C API.
 *
 *   bnnflow-classify MODEL.bnn IMAGE.pgm|IMAGE.ppm [--top K] [--threads N]
 *
 * Reads a binary PGM (P5, grey) or PPM (P6, RGB) image with maxval 255 whose size is the
 * model's input size (H x W, 1 or 3 channels; no resizing here), feeds it as NHWC pixels
 * (uint8 models take the pixels as they are: their normalisation is folded into the stem;
 * int8 models get pixel - 128; float32 models pixel / 255) and prints the top classes:
 *
 *   top-1: 8 (8)  logit 3.2100
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnnflow/bnnflow.h"

/* Next header integer of a PNM file, skipping whitespace and # comments. */
static int pnm_int(FILE* f, long* out) {
  int c = fgetc(f);
  for (;;) {
    while (c == ' ' || c == '\t' || c == '\n' || c == '\r') c = fgetc(f);
    if (c != '#') break;
    while (c != '\n' && c != EOF) c = fgetc(f);
  }
  if (c < '0' || c > '9') return 0;
  long v = 0;
  while (c >= '0' && c <= '9') {
    v = v * 10 + (c - '0');
    if (v > 1 << 20) return 0;
    c = fgetc(f);
  }
  *out = v;
  return 1; /* the single whitespace after the header is consumed */
}

/* Pixels of a P5/P6 file (malloc'ed, H*W*C bytes), or NULL with a message. */
static unsigned char* read_pnm(const char* path, long* h, long* w, long* c) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "%s: cannot open\n", path);
    return NULL;
  }
  char magic[3] = {0};
  long maxval = 0;
  if (fread(magic, 1, 2, f) != 2 || magic[0] != 'P' || (magic[1] != '5' && magic[1] != '6') ||
      !pnm_int(f, w) || !pnm_int(f, h) || !pnm_int(f, &maxval) || maxval != 255 || *w < 1 ||
      *h < 1) {
    fprintf(stderr, "%s: not a binary PGM (P5) / PPM (P6) image with maxval 255\n", path);
    fclose(f);
    return NULL;
  }
  *c = magic[1] == '5' ? 1 : 3;
  const size_t n = (size_t)(*h) * (size_t)(*w) * (size_t)(*c);
  unsigned char* px = (unsigned char*)malloc(n);
  if (px == NULL || fread(px, 1, n, f) != n) {
    fprintf(stderr, "%s: truncated image data\n", path);
    free(px);
    fclose(f);
    return NULL;
  }
  fclose(f);
  return px;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL.bnn IMAGE.pgm|IMAGE.ppm [--top K] [--threads N]\n", argv[0]);
    return 2;
  }
  long top = 5;
  bnnflow_options opts;
  bnnflow_options_init(&opts);
  for (int i = 3; i < argc; i += 2) {
    char* end = NULL;
    const long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
    const int is_top = strcmp(argv[i], "--top") == 0;
    if (!is_top && strcmp(argv[i], "--threads") != 0) {
      fprintf(stderr, "unknown option '%s' (expected --top K or --threads N)\n", argv[i]);
      return 2;
    }
    if (i + 1 >= argc || end == argv[i + 1] || *end != '\0' || v < 1 || v > (is_top ? 4096 : 256)) {
      fprintf(stderr, "%s needs a whole number from 1 to %d\n", argv[i], is_top ? 4096 : 256);
      return 2;
    }
    if (is_top) top = v;
    else opts.num_threads = (int)v;
  }
  bnnflow_model* m = NULL;
  if (bnnflow_model_create_from_file(argv[1], &opts, &m) != BNNFLOW_OK) {
    fprintf(stderr, "%s: %s\n", argv[1], bnnflow_last_error());
    return 1;
  }
  bnnflow_tensor_spec in;
  bnnflow_model_input_spec(m, &in);
  long h, w, c;
  unsigned char* px = read_pnm(argv[2], &h, &w, &c);
  if (px == NULL) return 1;
  if (in.rank != 4 || in.shape[1] != h || in.shape[2] != w || in.shape[3] != c) {
    fprintf(stderr, "%s is %ldx%ldx%ld, the model takes [N, %lld, %lld, %lld]\n", argv[2], h, w,
            c, (long long)in.shape[1], (long long)in.shape[2], (long long)in.shape[3]);
    return 1;
  }
  const size_t n = (size_t)(h * w * c);
  void* input = malloc(bnnflow_model_input_bytes(m, 1));
  if (input == NULL) {
    fprintf(stderr, "out of memory for the input\n");
    return 1;
  }
  for (size_t i = 0; i < n; ++i) {
    if (in.dtype == BNNFLOW_DTYPE_UINT8) ((unsigned char*)input)[i] = px[i];
    else if (in.dtype == BNNFLOW_DTYPE_INT8) ((signed char*)input)[i] = (signed char)(px[i] - 128);
    else ((float*)input)[i] = (float)px[i] / 255.0f;
  }
  const int64_t classes = bnnflow_model_num_classes(m);
  float* logits = (float*)malloc((size_t)classes * sizeof(float));
  if (logits == NULL) {
    fprintf(stderr, "out of memory for %lld logits\n", (long long)classes);
    return 1;
  }
  if (bnnflow_model_run(m, input, 1, logits) != BNNFLOW_OK) {
    fprintf(stderr, "run: %s\n", bnnflow_last_error());
    return 1;
  }
  if (top > classes) top = (long)classes;
  unsigned char* taken = (unsigned char*)calloc((size_t)classes, 1);
  if (taken == NULL) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  for (long k = 0; k < top; ++k) {  /* selection of the k-th largest, ties to the lower index */
    int64_t best = -1;
    for (int64_t i = 0; i < classes; ++i) {
      if (taken[i] || logits[i] != logits[i]) continue;
      if (best < 0 || logits[i] > logits[best]) best = i;
    }
    if (best < 0) break;
    const char* name = bnnflow_model_class_name(m, best);
    char fallback[32];
    if (name == NULL) {
      snprintf(fallback, sizeof fallback, "class %lld", (long long)best);
      name = fallback;
    }
    printf("top-%ld: %lld (%s)  logit %.4f\n", k + 1, (long long)best, name, logits[best]);
    taken[best] = 1;
  }
  free(taken);
  free(logits);
  free(input);
  free(px);
  bnnflow_model_destroy(m);
  return 0;
}
