#include "kernels/bdense/bdense.h"

#include <stdexcept>

namespace bnnflow {

BconvWeights prepare_bdense_weights(const uint32_t* w, int cout, int cin, Isa isa) {
  return prepare_bconv_weights(w, cout, 1, 1, cin, 1, isa);
}

namespace {

void check_dense(const BconvWeights& w) {
  if (w.kh != 1 || w.kw != 1 || w.groups != 1) {
    throw std::invalid_argument("bdense: weights were not prepared for a dense layer");
  }
}

}  // namespace

std::shared_ptr<const BconvPlan> plan_bdense(const BconvWeights& w, const Epilogue& ep) {
  check_dense(w);
  BconvGeometry geo;  // n 1x1 images: bconv2d's tiles run over their pixels flat
  geo.mode = PadMode::kValid;
  return plan_bconv(w, geo, ep);
}

void bdense(const BconvPlan& plan, const uint32_t* x, int n, const Epilogue& ep, void* out,
            ThreadPool& pool) {
  bconv2d(plan, x, n, ep, out, pool);
}

void bdense(const BconvWeights& w, const uint32_t* x, int n, const Epilogue& ep, void* out,
            ThreadPool& pool) {
  bdense(*plan_bdense(w, ep), x, n, ep, out, pool);
}

}  // namespace bnnflow
