// Shared checks of the C++ glue-kernel tests: each optimized kernel set against the scalar
// twins on many random shapes (odd channel counts, 1x1..7x7 kernels, strides 1-3, padding,
// batch > 1, 1 and 3 threads). Integer outputs must be equal bit for bit, float outputs
// within a relative tolerance.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/threadpool.h"
#include "kernels/add/add.h"
#include "kernels/add/residual.h"
#include "kernels/concat/concat.h"
#include "kernels/conv_int8/conv_int8.h"
#include "kernels/dense_int8/dense_int8.h"
#include "kernels/dwconv_int8/dwconv_int8.h"
#include "kernels/glue_f32/glue_f32.h"
#include "kernels/pool/pool.h"
#include "kernels/pwl/pwl.h"
#include "kernels/requant/requant.h"
#include "kernels/requant/requant32_plan.h"

namespace glue_test {

using namespace bnnflow;
using namespace bnnflow::glue;

// One ISA's kernels (function pointers), filled from namespace `ns` by GLUE_KERNELS(ns).
struct Kernels {
  const char* name;
  void (*requant)(const RequantArgs&, ThreadPool*);
  void (*requant32)(const Requant32Args&, ThreadPool*);
  void (*add_int8)(const AddInt8Args&, ThreadPool*);
  void (*add_f32)(const AddF32Args&, ThreadPool*);
  void (*pwl_int8)(const PwlInt8Args&, ThreadPool*);
  void (*pwl_f32)(const PwlF32Args&, ThreadPool*);
  void (*scale_bias)(const ScaleBiasArgs&, ThreadPool*);
  void (*dequant)(const DequantArgs&, ThreadPool*);
  void (*maxpool_int8)(const MaxPoolInt8Args&, ThreadPool*);
  void (*sumpool_int8)(const SumPoolInt8Args&, ThreadPool*);
  void (*maxpool_f32)(const MaxPoolF32Args&, ThreadPool*);
  void (*avgpool_f32)(const AvgPoolF32Args&, ThreadPool*);
  void (*global_sumpool_int8)(const GlobalSumPoolInt8Args&, ThreadPool*);
  void (*global_avgpool_f32)(const GlobalAvgPoolF32Args&, ThreadPool*);
  void (*conv2d_int8)(const Conv2dInt8Args&, ThreadPool*);
  void (*dwconv2d_int8)(const DwConv2dInt8Args&, ThreadPool*);
  bool (*dwconv2d_int8_requant_in_tile)(const DwConv2dInt8Args&);
  void (*dense_int8)(const DenseInt8Args&, ThreadPool*);
  void (*conv2d_f32)(const Conv2dF32Args&, ThreadPool*);
  void (*dense_f32)(const DenseF32Args&, ThreadPool*);
  void (*residual_rows)(const ResidualArgs&);
  void (*maxpool_requant32)(const MaxPoolRequant32Args&, ThreadPool*);
};

#define GLUE_KERNELS(ns)                                                                      \
  glue_test::Kernels {                                                                        \
    #ns, &ns::requant, &ns::requant32, &ns::add_int8, &ns::add_f32, &ns::pwl_int8,            \
        &ns::pwl_f32, &ns::scale_bias, &ns::dequant, &ns::maxpool_int8, &ns::sumpool_int8,    \
        &ns::maxpool_f32, &ns::avgpool_f32, &ns::global_sumpool_int8, &ns::global_avgpool_f32, \
        &ns::conv2d_int8, &ns::dwconv2d_int8, &ns::dwconv2d_int8_requant_in_tile, &ns::dense_int8, &ns::conv2d_f32, &ns::dense_f32, \
        &ns::residual_rows, &ns::maxpool_requant32                                            \
  }

struct Counts {
  int passed = 0, failed = 0;
};

class Rng {
 public:
  explicit Rng(std::uint32_t seed) : g_(seed) {}
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g_); }  // [lo, hi]
  long long uniform64(long long lo, long long hi) {
    return std::uniform_int_distribution<long long>(lo, hi)(g_);
  }
  float normal() { return std::normal_distribution<float>(0.0f, 1.0f)(g_); }
  template <class T>
  std::vector<T> ints(std::size_t n, long long lo, long long hi) {
    std::vector<T> v(n);
    for (auto& e : v) e = static_cast<T>(uniform64(lo, hi));
    return v;
  }
  std::vector<float> floats(std::size_t n) {
    std::vector<float> v(n);
    for (auto& e : v) e = normal();
    return v;
  }

 private:
  std::mt19937 g_;
};

template <class T>
bool same(const std::vector<T>& a, const std::vector<T>& b, double rtol) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::fabs(double(a[i]) - double(b[i])) > rtol * (1.0 + std::fabs(double(b[i])))) return false;
    } else {
      if (a[i] != b[i]) return false;
    }
  }
  return true;
}

// A result buffer that is not what a kernel would write: a kernel that leaves elements of its
// output unwritten fails the comparison (zero-filled buffers hid such bugs when the expected
// values were zero or when the allocator handed back an earlier call's correct output).
// Integers get a hashed pattern, floats a huge finite value (a NaN would compare equal in `same`).
template <class T>
std::vector<T> unwritten(std::size_t n) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      v[i] = static_cast<T>(-3.0e38);
    } else {
      v[i] = static_cast<T>(static_cast<std::uint32_t>(i * 2654435761u) >> 7 ^ 0xA5A5A5A5u);
    }
  }
  return v;
}

template <class T>
void record(Counts& c, const std::string& what, const std::vector<T>& got, const std::vector<T>& want,
            double rtol = 0.0) {
  if (same(got, want, rtol)) {
    ++c.passed;
  } else {
    ++c.failed;
    std::printf("FAILED: %s\n", what.c_str());
  }
}

// Per-channel fixed-point parameters whose int32 intermediates cannot overflow.
struct FixedParams {
  std::vector<std::int16_t> M, M2;
  std::vector<std::int32_t> B, B2, s, t;
  FixedParams(Rng& r, std::size_t C) {
    M = r.ints<std::int16_t>(C, -32768, 32767);
    M2 = r.ints<std::int16_t>(C, -32768, 32767);
    s = r.ints<std::int32_t>(C, 0, 30);
    t = r.ints<std::int32_t>(C, -140, 140);
    for (std::size_t c = 0; c < C; ++c) {
      const long long bound = 1LL << (s[c] + 15 < 24 ? s[c] + 15 : 24);
      B.push_back(static_cast<std::int32_t>(r.uniform64(-bound, bound)));
      B2.push_back(static_cast<std::int32_t>(r.uniform64(-bound, bound)));
    }
  }
};

inline std::string tag(const Kernels& k, const char* op, int threads, std::size_t a, std::size_t b,
                       std::size_t c = 0) {
  return std::string(k.name) + " " + op + " threads=" + std::to_string(threads) + " dims=" +
         std::to_string(a) + "," + std::to_string(b) + "," + std::to_string(c);
}

// Prepared requant32 (requant32_plan.h) against the scalar twin's plain int64 formula, with
// parameters of each form: int32 (s <= 22, |M| <= 2^30), high32 (s >= 32), anything (int64);
// x around each channel's unsaturated window (centre -B/M), anywhere, and the ends of int32.
inline void check_requant32_prepared(const Kernels& k, const Kernels& ref, ThreadPool* pool,
                                     int threads, Rng& r, Counts& cnt, std::size_t rows,
                                     std::size_t C) {
  static const char* const names[] = {"requant32 prepared int32", "requant32 prepared high32",
                                      "requant32 prepared any"};
  const int s_lo[] = {0, 32, 0}, s_hi[] = {22, 62, 62};
  const long long m_abs[] = {1LL << 30, 1LL << 31, 1LL << 31};
  const Rq32Mode want_mode[] = {Rq32Mode::kInt32, Rq32Mode::kHigh32};
  for (int form = 0; form < 3; ++form) {
    const auto M = r.ints<std::int32_t>(C, -m_abs[form], m_abs[form] - 1);
    auto B = r.ints<std::int64_t>(C, -(1LL << 40), 1LL << 40);
    const auto s = r.ints<std::int32_t>(C, s_lo[form], s_hi[form]);
    for (std::size_t c = 0; c < C; c += 2) {  // a window inside int32 (centre -B/M)
      B[c] = static_cast<std::int64_t>(M[c]) * r.uniform(-(1 << 23), 1 << 23) + (B[c] >> 16);
    }
    std::vector<std::int32_t> x(rows * C);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const std::size_t c = i % C;
      const double m = M[c] == 0 ? 1.0 : M[c], w = 256.0 * std::ldexp(1.0, s[c]) / std::fabs(m);
      double v = -static_cast<double>(B[c]) / m + (r.uniform(-1000, 1000) / 1000.0) * std::fmin(w, 4e9);
      if (i % 5 == 4) v = static_cast<double>(r.uniform64(INT32_MIN, INT32_MAX));
      if (i < C) v = i % 2 ? INT32_MAX : INT32_MIN;
      x[i] = static_cast<std::int32_t>(std::fmax(INT32_MIN, std::fmin(INT32_MAX, std::round(v))));
    }
    const Requant32Plan plan(M.data(), B.data(), s.data(), C);
    if (form < 2) {  // "any" has no expected form (one channel of each kind makes it int64)
      const bool mode_ok = plan.mode() == want_mode[form] ||
                           (form == 1 && plan.mode() == Rq32Mode::kInt32);  // all constant
      record(cnt, std::string(names[form]) + " mode", std::vector<int>{mode_ok},
             std::vector<int>{1});
    }
    std::vector<std::int8_t> want(rows * C);
    auto got = unwritten<std::int8_t>(rows * C);
    Requant32Args a{x.data(), want.data(), rows, C, M.data(), B.data(), s.data()};
    ref.requant32(a, nullptr);
    a.y = got.data();
    a.prep = &plan.view();
    k.requant32(a, pool);
    record(cnt, tag(k, names[form], threads, rows, C), got, want);
  }
}

inline void check_eltwise(const Kernels& k, const Kernels& ref, ThreadPool* pool, int threads, Rng& r,
                          Counts& cnt) {
  for (int iter = 0; iter < 40; ++iter) {
    const std::size_t rows = r.uniform(1, 40);
    std::size_t C = r.uniform(1, 150);
    if (iter % 5 == 0) C = (C + 15) / 16 * 16;  // whole 16-channel blocks (AVX-512 pwl_int8)
    if (iter % 5 == 1) C = ((C + 7) / 8 * 8) | 8;  // 16-channel blocks and one of 8 (AVX2 pwl_int8)
    const std::size_t n = rows * C;
    const FixedParams p(r, C);
    const auto x8 = r.ints<std::int8_t>(n, -128, 127), y8 = r.ints<std::int8_t>(n, -128, 127);
    std::vector<std::int8_t> want(n);
    auto got = unwritten<std::int8_t>(n);
    RequantArgs rq{x8.data(), nullptr, rows, C, p.M.data(), p.B.data(), p.s.data()};
    rq.y = want.data(); ref.requant(rq, nullptr);
    rq.y = got.data(); k.requant(rq, pool);
    record(cnt, tag(k, "requant", threads, rows, C), got, want);

    auto x32 = r.ints<std::int32_t>(n, INT32_MIN, INT32_MAX);
    for (std::size_t i = 0; i < n; i += 3) x32[i] >>= 20;
    const auto M32 = r.ints<std::int32_t>(C, INT32_MIN, INT32_MAX);
    const auto B64 = r.ints<std::int64_t>(C, -(1LL << 60), 1LL << 60);
    const auto s62 = r.ints<std::int32_t>(C, 0, 62);
    Requant32Args rq32{x32.data(), nullptr, rows, C, M32.data(), B64.data(), s62.data()};
    rq32.y = want.data(); ref.requant32(rq32, nullptr);
    rq32.y = got.data(); k.requant32(rq32, pool);
    record(cnt, tag(k, "requant32", threads, rows, C), got, want);
    check_requant32_prepared(k, ref, pool, threads, r, cnt, rows, C);

    AddInt8Args ad{x8.data(), y8.data(), nullptr, rows, C, p.M.data(), p.M2.data(), p.B.data(), p.s.data()};
    ad.y = want.data(); ref.add_int8(ad, nullptr);
    ad.y = got.data(); k.add_int8(ad, pool);
    record(cnt, tag(k, "add_int8", threads, rows, C), got, want);

    PwlInt8Args pw{x8.data(), nullptr, rows, C, p.t.data(), p.M.data(), p.B.data(), p.M2.data(), p.B2.data(), p.s.data()};
    pw.y = want.data(); ref.pwl_int8(pw, nullptr);
    pw.y = got.data(); k.pwl_int8(pw, pool);
    record(cnt, tag(k, "pwl_int8", threads, rows, C), got, want);

    const auto xf = r.floats(n), yf = r.floats(n);
    const auto pa = r.floats(C), pb = r.floats(C), pc = r.floats(C), pd = r.floats(C), pt = r.floats(C);
    std::vector<float> wantf(n);
    auto gotf = unwritten<float>(n);
    AddF32Args af{xf.data(), yf.data(), nullptr, n};
    af.y = wantf.data(); ref.add_f32(af, nullptr);
    af.y = gotf.data(); k.add_f32(af, pool);
    record(cnt, tag(k, "add_f32", threads, rows, C), gotf, wantf, 1e-6);

    PwlF32Args pf{xf.data(), nullptr, rows, C, pt.data(), pa.data(), pb.data(), pc.data(), pd.data()};
    pf.y = wantf.data(); ref.pwl_f32(pf, nullptr);
    pf.y = gotf.data(); k.pwl_f32(pf, pool);
    record(cnt, tag(k, "pwl_f32", threads, rows, C), gotf, wantf, 1e-5);

    ScaleBiasArgs sb{xf.data(), nullptr, rows, C, pa.data(), pb.data()};
    sb.y = wantf.data(); ref.scale_bias(sb, nullptr);
    sb.y = gotf.data(); k.scale_bias(sb, pool);
    record(cnt, tag(k, "scale_bias", threads, rows, C), gotf, wantf, 1e-5);

    const auto acc = r.ints<std::int32_t>(n, -(1 << 20), 1 << 20);
    DequantArgs dq{acc.data(), nullptr, rows, C, pa.data(), pb.data()};
    dq.y = wantf.data(); ref.dequant(dq, nullptr);
    dq.y = gotf.data(); k.dequant(dq, pool);
    // Exact: every ISA rounds f32(acc)·scale, then the sum (no FMA; docs/numerics.md §5).
    record(cnt, tag(k, "dequant", threads, rows, C), gotf, wantf);
  }
}

template <class Tin, class Tout, class Gen>
void check_pool_op(const char* op, void (*fn)(const PoolArgs<Tin, Tout>&, ThreadPool*),
                   void (*ref)(const PoolArgs<Tin, Tout>&, ThreadPool*), const Kernels& k, ThreadPool* pool,
                   int threads, Rng& r, Counts& cnt, const Gen& gen, double rtol) {
  for (int iter = 0; iter < 25; ++iter) {
    PoolArgs<Tin, Tout> a{};
    a.k = r.uniform(1, 4);
    a.stride = r.uniform(1, 3);
    // every side its own padding (TF "same" is asymmetric), each <= k/2
    a.pad_top = r.uniform(0, a.k / 2);
    a.pad_left = r.uniform(0, a.k / 2);
    a.pad_bottom = r.uniform(0, a.k / 2);
    a.pad_right = r.uniform(0, a.k / 2);
    a.N = r.uniform(1, 2);
    a.H = r.uniform(a.k, 11);
    a.W = r.uniform(a.k, 11);
    a.C = r.uniform(1, 100);
    if (iter % 5 == 2) a.C = 32 * static_cast<std::size_t>(r.uniform(1, 3));  // whole 32-byte blocks (AVX2 maxpool)
    if (iter % 5 == 4) {  // windows that tile the input, no padding, C % 16 == 0 (AVX2 sumpool)
      a.stride = a.k;
      a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = 0;
      a.C = 16 * static_cast<std::size_t>(r.uniform(1, 6));
      if (iter == 24) a.k = a.stride = 15, a.H = 15, a.W = 31, a.C = 32;  // |sum| up to 225 * 128
    }
    if (iter < 2) {  // the downsample shortcut's 2x2/2 unpadded pool (a fast path), odd W once
      a.k = a.stride = 2;
      a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = 0;
      a.H = iter == 0 ? 8 : 7;
      a.W = iter == 0 ? 6 : 9;
      a.C = iter == 0 ? 64 : 48;
    }
    if (iter == 2 || iter == 3) {  // the stem's 3x3/2 pool (overlapping windows; padding 1, or
      a.k = 3;                     // TF SAME's bottom / right only), 64 and 128 channels
      a.stride = 2;
      a.pad_top = a.pad_left = iter == 2 ? 1 : 0;
      a.pad_bottom = a.pad_right = 1;
      a.H = 9;
      a.W = iter == 2 ? 11 : 10;
      a.C = iter == 2 ? 64 : 128;
    }
    if (iter == 7) {  // a W*C row over the int8 maxpools' 16 KiB stack row (their heap path)
      a.k = 3;
      a.stride = 2;
      a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = 1;
      a.H = 5;
      a.W = 260;
      a.C = 64;
    }
    if (iter == 8 || iter == 9) {  // QuickNet's 2x2/1 unpadded pool (a fast path): 64 and 128 ch
      a.k = 2;
      a.stride = 1;
      a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = 0;
      a.H = iter == 8 ? 7 : 2;
      a.W = iter == 8 ? 9 : 5;
      a.C = iter == 8 ? 64 : 128;
    }
    const std::vector<Tin> x = gen(a.N * a.H * a.W * a.C);
    a.x = x.data();
    const std::size_t out = a.N * out_size(a.H, a.k, a.stride, a.pad_top, a.pad_bottom) *
                            out_size(a.W, a.k, a.stride, a.pad_left, a.pad_right) * a.C;
    std::vector<Tout> want(out);
    auto got = unwritten<Tout>(out);
    a.y = want.data(); ref(a, nullptr);
    a.y = got.data(); fn(a, pool);
    record(cnt, tag(k, op, threads, a.H, a.C, static_cast<std::size_t>(a.k * 10000 + a.pad_top * 1000 + a.pad_left * 100 +
                                                    a.pad_bottom * 10 + a.pad_right)),
           got, want, rtol);
  }
}

// requant32 at the edges of its contract: channel counts around the 16-channel groups and
// the 4-group packs, x / M / B at their extremes (products near 2^62, sums that wrap int64),
// s in {0, 1, 31, 32, 61, 62}; rows of 1 (the last-row path) and more.
inline void check_requant32_edges(const Kernels& k, const Kernels& ref, ThreadPool* pool, int threads,
                                  Rng& r, Counts& cnt) {
  const std::int32_t xs[] = {INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1, INT32_MAX, 12345, -98765};
  const std::int32_t ms[] = {INT32_MIN, INT32_MAX, -1, 0, 1, 1 << 20, -(1 << 30)};
  const std::int64_t bs[] = {INT64_MIN, INT64_MAX, 0, -1, 1LL << 62, -(1LL << 62), 1LL << 61};
  const std::int32_t ss[] = {0, 1, 31, 32, 61, 62};
  for (std::size_t C : {1u, 8u, 15u, 16u, 17u, 24u, 32u, 48u, 63u, 64u, 65u, 72u, 80u, 128u, 133u, 336u}) {
    for (std::size_t rows : {1u, 2u, 7u}) {
      const std::size_t n = rows * C;
      std::vector<std::int32_t> x(n), M(C), s(C);
      std::vector<std::int64_t> B(C);
      const auto any32 = [&r] { return static_cast<std::int32_t>(r.uniform64(INT32_MIN, INT32_MAX)); };
      for (auto& e : x) e = r.uniform(0, 3) == 0 ? any32() : xs[r.uniform(0, 8)];
      for (auto& e : M) e = r.uniform(0, 3) == 0 ? any32() : ms[r.uniform(0, 6)];
      for (auto& e : B) e = r.uniform(0, 3) == 0 ? r.uniform64(INT64_MIN, INT64_MAX) : bs[r.uniform(0, 6)];
      for (auto& e : s) e = r.uniform(0, 2) == 0 ? r.uniform(0, 62) : ss[r.uniform(0, 5)];
      std::vector<std::int8_t> want(n);
      auto got = unwritten<std::int8_t>(n);
      Requant32Args a{x.data(), nullptr, rows, C, M.data(), B.data(), s.data()};
      a.y = want.data(); ref.requant32(a, nullptr);
      a.y = got.data(); k.requant32(a, pool);
      record(cnt, tag(k, "requant32 edges", threads, rows, C), got, want);
    }
  }
}

// requant32 with a converted model's parameters (M of either sign up to 2^31, s mostly 30..46,
// |B| up to 2^50, M = 0, |M| just above and below 2^s), x at and around the inputs where y
// reaches -128 and 127 (where the saturation starts) and at the int32 limits.
inline void check_requant32_model_params(const Kernels& k, const Kernels& ref, ThreadPool* pool, int threads,
                                    Rng& r, Counts& cnt) {
  for (std::size_t C : {8u, 16u, 24u, 37u, 64u}) {
    const std::size_t rows = 40, n = rows * C;
    std::vector<std::int32_t> x(n), M(C), s(C);
    std::vector<std::int64_t> B(C);
    for (std::size_t c = 0; c < C; ++c) {
      s[c] = static_cast<std::int32_t>(r.uniform(0, 4) == 0 ? r.uniform(0, 56) : r.uniform(30, 46));
      const long long t = 1LL << (s[c] < 31 ? s[c] : 31);
      const int kind = r.uniform(0, 9);
      long long m = kind == 0 ? 0 : kind == 1 ? t : kind == 2 ? t + 1 : r.uniform64(t / 2, t);
      if (m > INT32_MAX) m = INT32_MAX;
      M[c] = static_cast<std::int32_t>(r.uniform(0, 1) == 0 ? m : -m);
      B[c] = r.uniform64(-(1LL << 50), 1LL << 50) >> (s[c] < 50 ? 50 - s[c] : 0);
    }
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t c = i % C;
      const int pick = r.uniform(0, 5);
      if (pick == 0 || M[c] == 0) {
        x[i] = static_cast<std::int32_t>(r.uniform64(INT32_MIN, INT32_MAX));
      } else if (pick == 1) {
        x[i] = r.uniform(0, 1) == 0 ? INT32_MIN : INT32_MAX;
      } else {  // near x where M*x + B = k * 2^s, k in {-129, -128, 127, 128}
        const long double kk = (pick == 2 ? -129.0L : pick == 3 ? -128.0L : pick == 4 ? 127.0L : 128.0L);
        const long double xs = (kk * std::ldexp(1.0L, s[c]) - static_cast<long double>(B[c])) / M[c];
        const long double v = xs + r.uniform(-3, 3);
        x[i] = v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : static_cast<std::int32_t>(v);
      }
    }
    std::vector<std::int8_t> want(n);
    auto got = unwritten<std::int8_t>(n);
    Requant32Args a{x.data(), nullptr, rows, C, M.data(), B.data(), s.data()};
    a.y = want.data(); ref.requant32(a, nullptr);
    a.y = got.data(); k.requant32(a, pool);
    record(cnt, tag(k, "requant32 model params", threads, rows, C), got, want);
  }
}

inline void check_pools(const Kernels& k, const Kernels& ref, ThreadPool* pool, int threads, Rng& r,
                        Counts& cnt) {
  auto gen8 = [&](std::size_t n) { return r.ints<std::int8_t>(n, -128, 127); };
  auto genf = [&](std::size_t n) { return r.floats(n); };
  check_pool_op("maxpool_int8", k.maxpool_int8, ref.maxpool_int8, k, pool, threads, r, cnt, gen8, 0.0);
  check_pool_op("sumpool_int8", k.sumpool_int8, ref.sumpool_int8, k, pool, threads, r, cnt, gen8, 0.0);
  check_pool_op("maxpool_f32", k.maxpool_f32, ref.maxpool_f32, k, pool, threads, r, cnt, genf, 0.0);
  check_pool_op("avgpool_f32", k.avgpool_f32, ref.avgpool_f32, k, pool, threads, r, cnt, genf, 1e-6);
  for (int iter = 0; iter < 20; ++iter) {
    const std::size_t N = r.uniform(1, 3), HW = r.uniform(1, 60), C = r.uniform(1, 200);
    const auto x8 = r.ints<std::int8_t>(N * HW * C, -128, 127);
    const auto xf = r.floats(N * HW * C);
    std::vector<std::int32_t> want(N * C);
    auto got = unwritten<std::int32_t>(N * C);
    GlobalSumPoolInt8Args g{x8.data(), nullptr, N, HW, C};
    g.y = want.data(); ref.global_sumpool_int8(g, nullptr);
    g.y = got.data(); k.global_sumpool_int8(g, pool);
    record(cnt, tag(k, "global_sumpool_int8", threads, N, HW, C), got, want);
    std::vector<float> wantf(N * C);
    auto gotf = unwritten<float>(N * C);
    GlobalAvgPoolF32Args gf{xf.data(), nullptr, N, HW, C};
    gf.y = wantf.data(); ref.global_avgpool_f32(gf, nullptr);
    gf.y = gotf.data(); k.global_avgpool_f32(gf, pool);
    record(cnt, tag(k, "global_avgpool_f32", threads, N, HW, C), gotf, wantf, 1e-5);
  }
}

// `pad` on every side, unless a side (top, left, bottom, right) is set (>= 0).
struct ConvShape {
  std::size_t N, H, W, Cin, Cout;
  int KH, KW, stride, pad;
  int top = -1, left = -1, bottom = -1, right = -1;
  int t() const { return top < 0 ? pad : top; }
  int l() const { return left < 0 ? pad : left; }
  int b() const { return bottom < 0 ? pad : bottom; }
  int rt() const { return right < 0 ? pad : right; }
};

template <class Args>
void set_pads(const ConvShape& s, Args& a) {
  a.pad_top = s.t();
  a.pad_left = s.l();
  a.pad_bottom = s.b();
  a.pad_right = s.rt();
}

// got = the complement of want: an output the kernel under test does not write fails (the
// buffer is reused across runs, whose earlier results could otherwise stand in for it).
inline void poison(std::vector<std::int8_t>& got, const std::vector<std::int8_t>& want) {
  for (std::size_t i = 0; i < got.size(); ++i) got[i] = static_cast<std::int8_t>(~want[i]);
}

inline ConvShape random_conv(Rng& r, int max_cin) {
  ConvShape s{};
  s.KH = r.uniform(1, 7);
  s.KW = r.uniform(1, 7);
  s.stride = r.uniform(1, 3);
  s.pad = r.uniform(0, 3);
  if (r.uniform(0, 2) > 0) {  // two thirds asymmetric (TF "same" padding)
    s.top = r.uniform(0, 3);
    s.left = r.uniform(0, 3);
    s.bottom = r.uniform(0, 3);
    s.right = r.uniform(0, 3);
  }
  s.N = r.uniform(1, 2);
  s.H = r.uniform(s.KH > s.t() + s.b() ? s.KH - s.t() - s.b() : 1, 12);
  s.W = r.uniform(s.KW > s.l() + s.rt() ? s.KW - s.l() - s.rt() : 1, 12);
  s.Cin = r.uniform(1, max_cin);
  s.Cout = r.uniform(1, 80);
  return s;
}

inline std::size_t conv_out(const ConvShape& s) {
  return s.N * out_size(s.H, s.KH, s.stride, s.t(), s.b()) *
         out_size(s.W, s.KW, s.stride, s.l(), s.rt()) * s.Cout;
}

inline void check_convs(const Kernels& k, const Kernels& ref, ThreadPool* pool_in, int threads, Rng& r,
                        Counts& cnt) {
  // One thread as the engine's band chains call the kernels: no pool (the AVX-512 1x1
  // convolution then runs the image as one row of pixels).
  ThreadPool* pool = threads == 1 ? nullptr : pool_in;
  for (int iter = 0; iter < 40; ++iter) {
    ConvShape s = random_conv(r, iter % 4 == 0 ? 70 : 9);
    if (iter == 0) s = ConvShape{1, 30, 30, 3, 64, 7, 7, 2, 3};  // the stem, small image
    // Stems whose output widths leave 1..5 pixels after the 6-pixel tiles (Wo = 23, 20, 15,
    // 13, 16), int8 (odd iter) and uint8 (even iter) input, a 130-channel one (two 64-channel
    // blocks and a partial third), an image row of > 64 bytes (the staged copy's vector loop
    // and tail).
    if (iter == 1) s = ConvShape{1, 45, 45, 3, 64, 7, 7, 2, 3};
    if (iter == 6) s = ConvShape{1, 45, 45, 3, 64, 7, 7, 2, 3};
    if (iter == 10) s = ConvShape{1, 9, 29, 3, 130, 7, 7, 2, 3};
    if (iter == 14) s = ConvShape{1, 11, 33, 3, 64, 7, 7, 2, 2};
    if (iter == 2) s = ConvShape{2, 17, 39, 3, 64, 7, 7, 2, 3};
    if (iter == 3) s = ConvShape{1, 9, 29, 3, 130, 7, 7, 2, 3};
    if (iter == 5) s = ConvShape{1, 8, 29, 5, 40, 3, 5, 2, 0};
    if (iter == 7) s = ConvShape{1, 11, 33, 3, 64, 7, 7, 2, 2};
    if (iter == 9) s = ConvShape{2, 7, 9, 70, 128, 1, 1, 1, 0};  // 1x1, two whole 64-channel blocks
    // 1x1 stride 1 unpadded with Cout % 32 == 0 (AVX2 runs its tiles along the flat pixels):
    // 49 pixels (16 tiles + 1), 20 (6 + 2), 256 (two runs of 129 + 127), 3 images of 35.
    if (iter == 11) s = ConvShape{1, 7, 7, 256, 64, 1, 1, 1, 0};
    if (iter == 13) s = ConvShape{1, 4, 5, 9, 32, 1, 1, 1, 0};
    if (iter == 15) s = ConvShape{1, 16, 16, 8, 64, 1, 1, 1, 0};
    if (iter == 17) s = ConvShape{3, 5, 7, 33, 96, 1, 1, 1, 0};
    // Cout % 32 == 16 (AVX2 requantises the last 16-channel block in its tile too): a QuickNet-
    // like stem (Wo = 15: two 6-pixel tiles and a 3) and 48 channels (one 32 block and a 16).
    if (iter == 19) s = ConvShape{1, 13, 29, 3, 16, 3, 3, 2, 1};
    if (iter == 21) s = ConvShape{2, 9, 17, 5, 48, 3, 3, 1, 1};
    // 1x1 stride 1 like the downsample shortcuts (AVX-512 without a pool: one row of N*H*W
    // pixels, the requant32 pipelined a tile behind): fewer quads than the pipe's 6 runs (Q =
    // 4), exactly 6, and a 14x14 map of 196 = 32 * 6 + 4 pixels.
    if (iter == 23) s = ConvShape{1, 5, 9, 16, 64, 1, 1, 1, 0};
    if (iter == 24) s = ConvShape{2, 3, 10, 24, 64, 1, 1, 1, 0};
    if (iter == 25) s = ConvShape{1, 14, 14, 64, 128, 1, 1, 1, 0};
    // QuickNet's depthwise 3x3 stride-2 shapes (multiplier 1, C a multiple of 16: the direct
    // layout of AVX-512 and AVX2), uint8 (even iter) and int8 input: 64 channels (the
    // transitions' blur), 16 (the stem) and 32, also as 3x3 convolutions with 64, 16 and 48
    // outputs (AVX-512: Cout % 64 = 16 or 48 requantised in the tile).
    if (iter == 34) s = ConvShape{1, 11, 13, 64, 64, 3, 3, 2, 1};
    if (iter == 35) s = ConvShape{2, 9, 10, 16, 16, 3, 3, 2, 1};
    if (iter == 36) s = ConvShape{1, 12, 9, 32, 48, 3, 3, 2, 1};
    // 1x1 with a last block of 16 channels (AVX-512: 64 + 16, both requantised a tile behind):
    // 65 pixels (10 tiles + 5).
    if (iter == 37) s = ConvShape{1, 5, 13, 24, 80, 1, 1, 1, 0};
    // 3x3 stride-2 RGB stems with whole 64-channel blocks (AVX-512: the quad loops fixed at
    // compile time, the requant32 pipelined a tile behind over only 3 kernel rows for 6
    // pixels): Wo = 13 (two 6-pixel tiles and a 1) and 12 (two whole tiles).
    if (iter == 26) s = ConvShape{1, 9, 26, 3, 64, 3, 3, 2, 1};
    if (iter == 27) s = ConvShape{2, 7, 23, 3, 128, 3, 3, 2, 1};
    // 7x7 stride-2 RGB stems with an even output width and whole 32-channel blocks (AVX2: the
    // Winograd path, two output pixels a tile, three tiles a register tile): T = Wo / 2 tiles
    // = 6 (two whole register tiles), 4 (one and a 1-tile), 5 (one and a 2-tile, TF SAME's
    // asymmetric padding), 6 with no top / bottom padding and Ho = 1 (a band chain's call),
    // 32, 64 and 96 channels, two images; both input dtypes.
    if (iter == 28) s = ConvShape{1, 12, 23, 3, 32, 7, 7, 2, 3};
    if (iter == 29) s = ConvShape{2, 9, 15, 3, 96, 7, 7, 2, 3};
    if (iter == 30) s = ConvShape{1, 10, 20, 3, 64, 7, 7, 2, 0, 2, 2, 3, 3};
    if (iter == 31) s = ConvShape{1, 8, 23, 3, 64, 7, 7, 2, 0, 0, 3, 0, 3};
    if (iter == 32) s = ConvShape{2, 16, 27, 3, 64, 7, 7, 2, 3};
    // 66 tiles: two chunks of the staged rows (64 tiles and 2).
    if (iter == 33) s = ConvShape{1, 9, 264, 3, 32, 7, 7, 2, 3};
    const bool unsigned_x = iter % 2 == 0;
    const auto xu = r.ints<std::uint8_t>(s.N * s.H * s.W * s.Cin, 0, 255);
    const auto xs = r.ints<std::int8_t>(s.N * s.H * s.W * s.Cin, -128, 127);
    const auto w = r.ints<std::int8_t>(s.Cout * s.KH * s.KW * s.Cin, -128, 127);
    const auto bias = r.ints<std::int32_t>(s.Cout, -(1 << 20), 1 << 20);
    const auto zp = unsigned_x ? r.ints<std::int32_t>(s.Cin, 0, 255) : r.ints<std::int32_t>(s.Cin, -128, 127);
    Conv2dInt8Args a{};
    a.x = unsigned_x ? static_cast<const void*>(xu.data()) : static_cast<const void*>(xs.data());
    a.x_unsigned = unsigned_x;
    a.w = w.data();
    a.bias = bias.data();
    a.zp = zp.data();
    a.N = s.N; a.H = s.H; a.W = s.W; a.Cin = s.Cin; a.Cout = s.Cout;
    a.KH = s.KH; a.KW = s.KW; a.stride = s.stride;
    set_pads(s, a);
    std::vector<std::int32_t> want(conv_out(s));
    auto got = unwritten<std::int32_t>(conv_out(s));
    a.y = want.data(); ref.conv2d_int8(a, nullptr);
    a.y = got.data(); k.conv2d_int8(a, pool);
    record(cnt, tag(k, "conv2d_int8", threads, s.Cin, s.Cout, s.KH * 100 + s.KW * 10 + s.stride), got, want);

    // Fused requant32: int8 out equal to the scalar conv2d_int8 then the scalar requant32.
    const auto M32 = r.ints<std::int32_t>(s.Cout, -(1 << 24), 1 << 24);
    const auto B64 = r.ints<std::int64_t>(s.Cout, -(1LL << 40), 1LL << 40);
    const auto s62 = r.ints<std::int32_t>(s.Cout, 20, 40);
    std::vector<std::int8_t> want8(conv_out(s));
    auto got8 = unwritten<std::int8_t>(conv_out(s));
    const Requant32Args rq32{want.data(), want8.data(), conv_out(s) / s.Cout, s.Cout, M32.data(), B64.data(),
                             s62.data()};
    ref.requant32(rq32, nullptr);
    const Conv2dInt8Requant fused{got8.data(), M32.data(), B64.data(), s62.data(), k.requant32};
    a.rq = &fused;
    a.y = nullptr;
    poison(got8, want8);
    k.conv2d_int8(a, pool);
    a.rq = nullptr;
    record(cnt, tag(k, "conv2d_int8+requant32", threads, s.Cin, s.Cout, s.KH * 100 + s.KW * 10 + s.stride), got8,
           want8);

    // The same with requant32 folded (requant32_plan.h) into each form; AVX-512 requantises in
    // its register tile when Cout is a multiple of 64 (conv2d_int8_requant_in_tile).
    for (int form = 0; form < 2; ++form) {
      const auto Mf = form == 0 ? r.ints<std::int32_t>(s.Cout, -(1 << 30), (1 << 30) - 1)
                                : r.ints<std::int32_t>(s.Cout, INT32_MIN, INT32_MAX);
      const auto sf = r.ints<std::int32_t>(s.Cout, form == 0 ? 0 : 32, form == 0 ? 22 : 45);
      std::vector<std::int64_t> Bf(s.Cout);
      for (std::size_t c = 0; c < s.Cout; ++c) Bf[c] = -static_cast<std::int64_t>(Mf[c]) * r.uniform(-(1 << 20), 1 << 20);
      const Requant32Plan plan(Mf.data(), Bf.data(), sf.data(), s.Cout);
      const Requant32Args rqf{want.data(), want8.data(), conv_out(s) / s.Cout, s.Cout, Mf.data(), Bf.data(), sf.data()};
      ref.requant32(rqf, nullptr);
      Conv2dInt8Requant fusedf{got8.data(), Mf.data(), Bf.data(), sf.data(), k.requant32};
      fusedf.prep = &plan.view();
      a.rq = &fusedf;
      poison(got8, want8);
      k.conv2d_int8(a, pool);
      a.rq = nullptr;
      record(cnt, tag(k, form == 0 ? "conv2d_int8+requant32 prepared int32" : "conv2d_int8+requant32 prepared high32",
                      threads, s.Cin, s.Cout, s.KH * 100 + s.KW * 10 + s.stride), got8, want8);
    }

    const auto xf = r.floats(s.N * s.H * s.W * s.Cin), wf = r.floats(w.size()), bf = r.floats(s.Cout);
    Conv2dF32Args f{xf.data(), wf.data(), bf.data(), nullptr, s.N, s.H, s.W, s.Cin, s.Cout, s.KH, s.KW, s.stride};
    set_pads(s, f);
    std::vector<float> wantf(conv_out(s));
    auto gotf = unwritten<float>(conv_out(s));
    f.y = wantf.data(); ref.conv2d_f32(f, nullptr);
    f.y = gotf.data(); k.conv2d_f32(f, pool);
    record(cnt, tag(k, "conv2d_f32", threads, s.Cin, s.Cout, s.KH * 100 + s.KW * 10 + s.stride), gotf, wantf, 1e-4);

    // Depthwise: reuse the geometry with a square kernel and multiplier 1..4.
    DwConv2dInt8Args d{};
    d.mult = static_cast<std::size_t>(r.uniform(1, 4));
    if (iter >= 34 && iter <= 36) d.mult = 1;
    d.KH = d.KW = s.KH;
    d.H = s.H > static_cast<std::size_t>(s.KH) ? s.H : static_cast<std::size_t>(s.KH);
    d.W = s.W > static_cast<std::size_t>(s.KH) ? s.W : static_cast<std::size_t>(s.KH);
    d.N = s.N; d.C = s.Cin; d.stride = s.stride;
    set_pads(s, d);
    d.x_unsigned = unsigned_x;
    if (iter == 37 || iter == 38) {  // the direct layout (m = 1, C % 16 == 0) off the 3x3 rows:
      d.mult = 1;                    // an even tap count (2x2) and an odd one (5x5, pairs + 1)
      d.C = iter == 37 ? 16 : 48;
      d.KH = d.KW = iter == 37 ? 2 : 5;
      d.H = 9;
      d.W = 11;
      d.stride = iter == 37 ? 1 : 2;
      d.pad_top = d.pad_left = iter == 37 ? 0 : 2;
      d.pad_bottom = d.pad_right = 1;
    }
    const auto dxu = r.ints<std::uint8_t>(d.N * d.H * d.W * d.C, 0, 255);
    const auto dxs = r.ints<std::int8_t>(d.N * d.H * d.W * d.C, -128, 127);
    const auto dw = r.ints<std::int8_t>(d.C * d.mult * d.KH * d.KW, -128, 127);
    const auto db = r.ints<std::int32_t>(d.C * d.mult, -(1 << 20), 1 << 20);
    d.x = unsigned_x ? static_cast<const void*>(dxu.data()) : static_cast<const void*>(dxs.data());
    const auto dzp = unsigned_x ? r.ints<std::int32_t>(d.C, 0, 255) : r.ints<std::int32_t>(d.C, -128, 127);
    d.w = dw.data(); d.bias = db.data(); d.zp = d.C == s.Cin ? zp.data() : dzp.data();
    const std::size_t dout = d.N * out_size(d.H, d.KH, d.stride, d.pad_top, d.pad_bottom) *
                             out_size(d.W, d.KW, d.stride, d.pad_left, d.pad_right) * d.C * d.mult;
    std::vector<std::int32_t> dwant(dout);
    auto dgot = unwritten<std::int32_t>(dout);
    d.y = dwant.data(); ref.dwconv2d_int8(d, nullptr);
    d.y = dgot.data(); k.dwconv2d_int8(d, pool);
    record(cnt, tag(k, "dwconv2d_int8", threads, d.C, d.mult, static_cast<std::size_t>(d.KH)), dgot, dwant);

    // dwconv2d_int8 + requant32 folded into each form: every ISA requantises in the register
    // tile (dwconv2d_int8_requant_in_tile), equal to the scalar dwconv then the scalar requant32.
    const std::size_t dco = d.C * d.mult;
    for (int form = 0; form < 2; ++form) {
      const auto Mf = form == 0 ? r.ints<std::int32_t>(dco, -(1 << 30), (1 << 30) - 1)
                                : r.ints<std::int32_t>(dco, INT32_MIN, INT32_MAX);
      const auto sf = r.ints<std::int32_t>(dco, form == 0 ? 0 : 32, form == 0 ? 22 : 45);
      std::vector<std::int64_t> Bf(dco);
      for (std::size_t c = 0; c < dco; ++c) Bf[c] = -static_cast<std::int64_t>(Mf[c]) * r.uniform(-(1 << 20), 1 << 20);
      const Requant32Plan plan(Mf.data(), Bf.data(), sf.data(), dco);
      std::vector<std::int8_t> dwant8(dout);
      auto dgot8 = unwritten<std::int8_t>(dout);
      const Requant32Args rqf{dwant.data(), dwant8.data(), dout / dco, dco, Mf.data(), Bf.data(), sf.data()};
      ref.requant32(rqf, nullptr);
      DwConv2dInt8Args f = d;
      f.y = nullptr;
      f.rq = &plan.view();
      f.y8 = dgot8.data();
      const char* what = form == 0 ? "dwconv2d_int8+requant32 prepared int32" : "dwconv2d_int8+requant32 prepared high32";
      const bool in_tile = k.dwconv2d_int8_requant_in_tile(f);
      record(cnt, tag(k, what, threads, d.C, d.mult, 1000), std::vector<int>{in_tile},
             std::vector<int>{plan.mode() != Rq32Mode::kInt64});
      if (in_tile) {
        k.dwconv2d_int8(f, pool);
      } else {  // the int64 form: the two kernels (not expected with these parameters)
        Requant32Args q{dgot.data(), dgot8.data(), dout / dco, dco, Mf.data(), Bf.data(), sf.data(), &plan.view()};
        k.requant32(q, pool);
      }
      record(cnt, tag(k, what, threads, d.C, d.mult, static_cast<std::size_t>(d.KH)), dgot8, dwant8);
    }
  }
}

// conv2d_int8 with every value at an end of its range (docs/numerics.md §5): x in {lo, hi} of
// its dtype, zp in {lo, hi}, w in {-128, 127}, bias in {INT32_MIN, 0, INT32_MAX}. Patterns 0-3
// are uniform (|x - zp| = 255 against |w| = 128 in every tap: every pair, quad or longer int16
// partial sum of w*(x - zp) exceeds the int16 range, and the int32 accumulator wraps from the
// bias); 4-7 mix the ends at random. A kernel whose multiply saturates a pair sum (vpmaddubsw,
// vpmaddwd on unsplit u8 operands) or accumulates in a type narrower than the wrapping int32
// fails here even where random data rarely shows it. Shapes: the Bi-Real-Net-18 / ResNet stem
// (7x7 s2, 3 -> 64), the QuickNet stem (3x3 s2, 3 -> 16), a 3x3 and a strided 1x1 layer, and
// both stems with TF SAME's asymmetric padding ([2, 2, 3, 3] and [0, 0, 1, 1]), and two flat
// 1x1 layers.
inline void check_conv_extremes(const Kernels& k, const Kernels& ref, ThreadPool* pool, int threads,
                                Rng& r, Counts& cnt) {
  const ConvShape shapes[] = {{1, 13, 15, 3, 64, 7, 7, 2, 3},
                              {1, 9, 11, 3, 16, 3, 3, 2, 1},
                              {1, 7, 6, 16, 40, 3, 3, 1, 1},
                              {2, 8, 8, 64, 35, 1, 1, 2, 0},
                              // TF SAME on even maps: asymmetric [top, left, bottom, right]
                              {1, 14, 14, 3, 64, 7, 7, 2, 0, 2, 2, 3, 3},
                              {1, 10, 12, 3, 16, 3, 3, 2, 0, 0, 0, 1, 1},
                              // 7x7 stride-2 stems with an even output width (AVX2's Winograd
                              // path: |V| = 1530 against |U| = 1920 at the ends)
                              {1, 14, 19, 3, 64, 7, 7, 2, 3},
                              {1, 14, 16, 3, 96, 7, 7, 2, 0, 2, 2, 3, 3},
                              // 11 groups of 4 padded columns a row: the staging's vector
                              // split of 8 groups (split8) and 3 scalar ones
                              {1, 9, 40, 3, 32, 7, 7, 2, 3},
                              // flat 1x1 stride-1 layers of >= 64 pixels (AVX2's inner-product
                              // form: int16 sums x + w at +-383; Cin = 1 is one zero-padded step)
                              {1, 9, 8, 64, 64, 1, 1, 1, 0},
                              {2, 6, 6, 1, 32, 1, 1, 1, 0}};
  const std::int32_t biases[] = {INT32_MIN, 0, INT32_MAX};
  int b = 0;
  for (const ConvShape& s : shapes) {
    for (int unsigned_x = 0; unsigned_x < 2; ++unsigned_x) {
      const int lo = unsigned_x ? 0 : -128, hi = unsigned_x ? 255 : 127;
      for (int pattern = 0; pattern < 8; ++pattern) {
        const std::size_t nx = s.N * s.H * s.W * s.Cin, nw = s.Cout * s.KH * s.KW * s.Cin;
        // x high with zp low (x - zp = +255) or the reverse; w all -128 or all 127.
        const bool x_hi = pattern & 1, w_hi = pattern & 2, mixed = pattern >= 4;
        auto pick = [&](int a, int c, bool high) { return mixed ? (r.uniform(0, 1) ? c : a) : (high ? c : a); };
        std::vector<std::uint8_t> xu(nx);
        std::vector<std::int8_t> xs(nx), w(nw);
        for (std::size_t i = 0; i < nx; ++i) {
          const int v = pick(lo, hi, x_hi);
          xu[i] = static_cast<std::uint8_t>(v);
          xs[i] = static_cast<std::int8_t>(v);
        }
        for (auto& e : w) e = static_cast<std::int8_t>(pick(-128, 127, w_hi));
        std::vector<std::int32_t> zp(s.Cin), bias(s.Cout, biases[b++ % 3]);
        for (auto& e : zp) e = pick(lo, hi, !x_hi);
        Conv2dInt8Args a{};
        a.x = unsigned_x ? static_cast<const void*>(xu.data()) : static_cast<const void*>(xs.data());
        a.x_unsigned = unsigned_x;
        a.w = w.data();
        a.bias = bias.data();
        a.zp = zp.data();
        a.N = s.N; a.H = s.H; a.W = s.W; a.Cin = s.Cin; a.Cout = s.Cout;
        a.KH = s.KH; a.KW = s.KW; a.stride = s.stride;
        set_pads(s, a);
        std::vector<std::int32_t> want(conv_out(s));
        auto got = unwritten<std::int32_t>(conv_out(s));
        a.y = want.data(); ref.conv2d_int8(a, nullptr);
        a.y = got.data(); k.conv2d_int8(a, pool);
        record(cnt, tag(k, "conv2d_int8 extremes", threads, s.Cin, s.Cout, pattern * 10 + unsigned_x), got, want);
      }
    }
  }
}

inline void check_dense(const Kernels& k, const Kernels& ref, ThreadPool* pool, int threads, Rng& r,
                        Counts& cnt) {
  for (int iter = 0; iter < 40; ++iter) {
    const std::size_t N = r.uniform(1, 4), Cin = r.uniform(1, 600), Cout = r.uniform(1, 50);
    const auto x = r.ints<std::int8_t>(N * Cin, -128, 127), w = r.ints<std::int8_t>(Cout * Cin, -128, 127);
    const auto bias = r.ints<std::int32_t>(Cout, INT32_MIN, INT32_MAX);  // also wrapping sums
    std::vector<std::int32_t> want(N * Cout);
    auto got = unwritten<std::int32_t>(N * Cout);
    DenseInt8Args a{x.data(), w.data(), bias.data(), nullptr, N, Cin, Cout};
    a.y = want.data(); ref.dense_int8(a, nullptr);
    a.y = got.data(); k.dense_int8(a, pool);
    record(cnt, tag(k, "dense_int8", threads, N, Cin, Cout), got, want);

    const auto xf = r.floats(N * Cin), wf = r.floats(Cout * Cin), bf = r.floats(Cout);
    std::vector<float> wantf(N * Cout);
    auto gotf = unwritten<float>(N * Cout);
    DenseF32Args f{xf.data(), wf.data(), bf.data(), nullptr, N, Cin, Cout};
    f.y = wantf.data(); ref.dense_f32(f, nullptr);
    f.y = gotf.data(); k.dense_f32(f, pool);
    record(cnt, tag(k, "dense_f32", threads, N, Cin, Cout), gotf, wantf, 1e-4);
  }
}

// residual_rows (the fused residual tail, residual.h) on rows [r0, rows) against the unfused
// kernels it replaces: ref's add_int8, then ref's pwl_int8; rows before r0 stay untouched.
inline void check_residual(const Kernels& k, const Kernels& ref, Rng& r, Counts& cnt) {
  for (int iter = 0; iter < 80; ++iter) {
    const std::size_t rows = r.uniform(1, 20), n0 = iter < 8 ? 16 * (iter + 1) : 0;
    const std::size_t C = n0 ? n0 : r.uniform(1, 150), n = rows * C;  // whole 16-blocks too
    const std::size_t r0 = r.uniform(0, static_cast<int>(rows) - 1);
    const bool pwl = iter % 3 != 0;
    const FixedParams a(r, C), q(r, C);
    const auto y = r.ints<std::int8_t>(n, -128, 127), res = r.ints<std::int8_t>(n, -128, 127);
    // The unfused pair: add_int8(y, res), then pwl_int8 (q.M / q.M2 as Mp / Mn).
    std::vector<std::int8_t> want = y, sum(n);
    AddInt8Args add{y.data(), res.data(), sum.data(), rows, C, a.M.data(), a.M2.data(),
                    a.B.data(), a.s.data()};
    ref.add_int8(add, nullptr);
    std::vector<std::int8_t> act(n);
    PwlInt8Args pa{sum.data(), act.data(), rows, C, q.t.data(), q.M.data(), q.B.data(),
                   q.M2.data(), q.B2.data(), q.s.data()};
    ref.pwl_int8(pa, nullptr);
    const std::vector<std::int8_t>& out = pwl ? act : sum;
    for (std::size_t i = r0 * C; i < n; ++i) want[i] = out[i];
    // The folded parameters (as engine/steps.cc folds them).
    std::vector<std::int32_t> my(C), mr(C), pairs(C), br(C), mp(C), bp(C), mn(C), bn(C);
    for (std::size_t c = 0; c < C; ++c) {
      my[c] = a.M[c];
      mr[c] = a.M2[c];
      pairs[c] = static_cast<std::int32_t>(static_cast<std::uint16_t>(a.M[c]) |
                                           (static_cast<std::uint32_t>(
                                                static_cast<std::uint16_t>(a.M2[c])) << 16));
      br[c] = wadd32(a.B[c], round_term32(a.s[c]));
      mp[c] = q.M[c];
      mn[c] = q.M2[c];
      bp[c] = wadd32(q.B[c], round_term32(q.s[c]));
      bn[c] = wadd32(q.B2[c], round_term32(q.s[c]));
    }
    ResidualParams p;
    p.channels = C;
    p.my = my.data(), p.mr = mr.data(), p.br = br.data(), p.s = a.s.data();
    if (iter % 2 == 0) p.pairs = pairs.data();  // with and without the vpmaddwd form
    p.pwl = pwl;
    p.t = q.t.data(), p.mp = mp.data(), p.bp = bp.data(), p.mn = mn.data(), p.bn = bn.data();
    p.ps = q.s.data();
    std::vector<std::int8_t> got = y;
    k.residual_rows(ResidualArgs{&p, got.data(), res.data(), r0, rows});
    record(cnt, tag(k, pwl ? "residual_rows+pwl" : "residual_rows", 1, rows, C, r0), got, want);
  }
}

// maxpool_requant32 against the scalar requant32 of every pixel, then the scalar maxpool_int8
// (pool.h: exact because requant32 is monotone per channel, non-increasing where M < 0). Per
// call one parameter kind: 0 anything, 1 the int32 prepared form's range (s <= 22), 2 high32
// (s >= 32), 3 the extremes (M in {INT32_MIN, -1, 0, 1, INT32_MAX}, s in {0, 1, 31, 32, 61, 62},
// |B| up to 2^60, x at the ends of int32 and next to them; the int64 formula cannot overflow for
// |B| < 2^61, as |M·x| <= 2^62 and the rounding term <= 2^61, so these are valid files' params). x around each channel's unsaturated
// window (so the pooled value decides) and anywhere; with and without the prepared form.
inline void check_maxpool_requant32(const Kernels& k, const Kernels& ref, ThreadPool* pool,
                                    int threads, Rng& r, Counts& cnt) {
  for (int iter = 0; iter < 24; ++iter) {
    MaxPoolRequant32Args a{};
    a.k = r.uniform(1, 4);
    a.stride = r.uniform(1, 3);
    a.pad_top = r.uniform(0, a.k / 2);
    a.pad_left = r.uniform(0, a.k / 2);
    a.pad_bottom = r.uniform(0, a.k / 2);
    a.pad_right = r.uniform(0, a.k / 2);
    a.N = r.uniform(1, 2);
    a.H = r.uniform(a.k, 11);
    a.W = r.uniform(a.k, 11);
    a.C = r.uniform(1, 70);
    if (iter % 3 == 0) a.C = 16 * static_cast<std::size_t>(r.uniform(1, 4));  // whole vectors
    if (iter < 4) {  // the stem's 3x3/2 pool, padding 1 (or TF SAME's bottom / right only)
      a.k = 3;
      a.stride = 2;
      a.pad_top = a.pad_left = iter % 2 ? 0 : 1;
      a.pad_bottom = a.pad_right = 1;
      a.H = 9;
      a.W = 12 + static_cast<std::size_t>(iter);
      a.C = 64;
    }
    const int kind = iter % 4;
    const std::size_t C = a.C;
    const int s_lo[] = {0, 0, 32, 0}, s_hi[] = {62, 22, 62, 62};
    auto M = r.ints<std::int32_t>(C, kind == 1 ? -(1LL << 30) : INT32_MIN, kind == 1 ? (1LL << 30) : INT32_MAX);
    auto B = r.ints<std::int64_t>(C, -(1LL << 40), 1LL << 40);
    auto s = r.ints<std::int32_t>(C, s_lo[kind], s_hi[kind]);
    static const std::int32_t kM[] = {INT32_MIN, -1, 0, 1, INT32_MAX};
    static const std::int32_t kS[] = {0, 1, 31, 32, 61, 62};
    static const std::int64_t kB[] = {-(1LL << 60), 0, 1LL << 60, -1, 1};
    for (std::size_t c = 0; c < C; ++c) {
      if (kind == 3) {
        M[c] = kM[r.uniform(0, 4)];
        s[c] = kS[r.uniform(0, 5)];
        B[c] = c % 2 ? kB[r.uniform(0, 4)] : B[c];
      } else if (c % 4 != 3) {  // a window inside int32 (centre -B/M)
        B[c] = static_cast<std::int64_t>(M[c]) * r.uniform(-(1 << 23), 1 << 23) + (B[c] >> 16);
      }
    }
    std::vector<std::int32_t> x(a.N * a.H * a.W * C);
    static const std::int32_t kX[] = {INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1, INT32_MAX};
    for (std::size_t i = 0; i < x.size(); ++i) {
      const std::size_t c = i % C;
      const double m = M[c] == 0 ? 1.0 : M[c], w = 256.0 * std::ldexp(1.0, s[c]) / std::fabs(m);
      double v = -static_cast<double>(B[c]) / m + (r.uniform(-1000, 1000) / 1000.0) * std::fmin(w, 4e9);
      if (i % 5 == 4) v = static_cast<double>(r.uniform64(INT32_MIN, INT32_MAX));
      if (kind == 3 && i % 3 == 0) v = kX[r.uniform(0, 6)];
      x[i] = static_cast<std::int32_t>(std::fmax(INT32_MIN, std::fmin(INT32_MAX, std::round(v))));
    }
    const Requant32Plan plan(M.data(), B.data(), s.data(), C);
    // The reference: every pixel requantised, then the int8 max pool.
    std::vector<std::int8_t> q(x.size());
    ref.requant32(Requant32Args{x.data(), q.data(), x.size() / C, C, M.data(), B.data(), s.data()}, nullptr);
    MaxPoolInt8Args p{};
    static_cast<PoolArgs<std::int8_t, std::int8_t>&>(p) = {q.data(), nullptr, a.N, a.H, a.W, C, a.k, a.stride,
                                                            a.pad_top, a.pad_left, a.pad_bottom, a.pad_right};
    const std::size_t out = a.N * out_size(a.H, a.k, a.stride, a.pad_top, a.pad_bottom) *
                            out_size(a.W, a.k, a.stride, a.pad_left, a.pad_right) * C;
    std::vector<std::int8_t> want(out);
    p.y = want.data();
    ref.maxpool_int8(p, nullptr);
    for (int prepared = 0; prepared < 2; ++prepared) {
      auto got = unwritten<std::int8_t>(out);
      poison(got, want);
      a.x = x.data();
      a.y = got.data();
      a.rq = Requant32Args{nullptr, nullptr, 0, C, M.data(), B.data(), s.data(), prepared ? &plan.view() : nullptr};
      k.maxpool_requant32(a, pool);
      record(cnt, tag(k, prepared ? "maxpool_requant32 prepared" : "maxpool_requant32", threads, a.H, C,
                      static_cast<std::size_t>(kind * 100 + a.k * 10 + a.stride)),
             got, want);
    }
  }
}

// Runs every check of kernel set `k` against `ref` with 1 and 3 threads.
inline void check_all(const Kernels& k, const Kernels& ref, Counts& cnt, std::uint32_t seed) {
  for (int threads : {1, 3}) {
    ThreadPool pool(threads);
    Rng r(seed + threads);
    check_eltwise(k, ref, &pool, threads, r, cnt);
    check_requant32_edges(k, ref, &pool, threads, r, cnt);
    check_requant32_model_params(k, ref, &pool, threads, r, cnt);
    check_pools(k, ref, &pool, threads, r, cnt);
    check_maxpool_requant32(k, ref, &pool, threads, r, cnt);
    check_convs(k, ref, &pool, threads, r, cnt);
    check_conv_extremes(k, ref, &pool, threads, r, cnt);
    check_dense(k, ref, &pool, threads, r, cnt);
  }
  Rng r(seed + 100);
  check_residual(k, ref, r, cnt);
}

}  // namespace glue_test
