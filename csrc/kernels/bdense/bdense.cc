#include "kernels/bdense/bdense.h"

#include <stdexcept>

namespace bnnflow {

BconvWeights prepare_bdense_weights(const uint32_t* w, int cout, int cin, Isa isa) {
  return prepare_bconv_weights(w, cout, 1, 1, cin, 1, isa);
}

void bdense(const BconvWeights& w, const uint32_t* x, int n, const Epilogue& ep, void* out,
            ThreadPool& pool) {
  if (w.kh != 1 || w.kw != 1 || w.groups != 1) {
    throw std::invalid_argument("bdense: weights were not prepared for a dense layer");
  }
  BconvGeometry geo;
  geo.n = 1;
  geo.h = 1;
  geo.w = n;
  geo.mode = PadMode::kValid;
  bconv2d(w, x, geo, ep, out, pool);
}

}  // namespace bnnflow
