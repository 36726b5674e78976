// Convolution weights prepared once for one ISA's kernel (prepare_conv2d_int8_weights,
// prepare_conv2d_f32_weights): copies of the caller's weights, bias and zero points plus the
// kernel's packed layout (conv2d_*_pack), so every later call runs conv2d_*_packed directly.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cpu_features.h"

namespace bnnflow::bind {

// Zero-initialised, 64-byte-aligned bytes (what the kernels' aligned vector loads need).
class AlignedBytes {
 public:
  explicit AlignedBytes(std::size_t n) : n_(n) {
    const std::size_t bytes = (n / 64 + 1) * 64;
    p_.reset(static_cast<std::uint8_t*>(std::aligned_alloc(64, bytes)));
    if (!p_) throw std::bad_alloc();
    std::memset(p_.get(), 0, bytes);
  }
  std::uint8_t* data() { return p_.get(); }
  const std::uint8_t* data() const { return p_.get(); }
  std::size_t size() const { return n_; }

 private:
  struct Free {
    void operator()(std::uint8_t* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<std::uint8_t, Free> p_;
  std::size_t n_;
};

// Weights W [Cout, KH, KW, Cin], bias B [Cout]; zp [Cin] (int8 convolutions only).
template <class W, class B>
struct PreparedConv {
  Isa isa = Isa::kScalar;
  bool x_unsigned = false;  // int8 convolutions: the input dtype the packing assumed
  std::size_t cout = 0, kh = 0, kw = 0, cin = 0;
  std::vector<W> w;
  std::vector<B> bias;
  std::vector<std::int32_t> zp;
  std::shared_ptr<AlignedBytes> packed;
};

// The ISA a call with prepared weights runs on: theirs; an explicit other isa is an error.
inline Isa prepared_isa(Isa prepared, const std::optional<std::string>& isa, Isa asked) {
  if (isa && asked != prepared) {
    throw std::invalid_argument("isa: '" + *isa + "' but the weights were prepared for '" +
                                isa_name(prepared) + "'; prepare them again with isa='" + *isa +
                                "'");
  }
  return prepared;
}

}  // namespace bnnflow::bind
