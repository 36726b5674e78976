// 64-byte-aligned, zero-initialised owned bytes (the kernels' vector loads want aligned data).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace bnnflow::engine {

inline constexpr std::size_t kAlign = 64;

inline std::size_t round_up(std::size_t n, std::size_t a = kAlign) { return (n + a - 1) / a * a; }

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // n bytes; all zero, or with zero_all = false only the slack past n (the caller fills
  // the first n bytes itself).
  explicit AlignedBuffer(std::size_t n, bool zero_all = true) : n_(n) {
    const std::size_t bytes = round_up(n == 0 ? 1 : n) + kAlign;
    p_.reset(static_cast<std::uint8_t*>(std::aligned_alloc(kAlign, bytes)));
    if (!p_) throw std::bad_alloc();
    if (zero_all) std::memset(p_.get(), 0, bytes);
    else std::memset(p_.get() + n, 0, bytes - n);
  }
  std::uint8_t* data() { return p_.get(); }
  const std::uint8_t* data() const { return p_.get(); }
  std::size_t size() const { return n_; }

 private:
  struct Free {
    void operator()(std::uint8_t* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<std::uint8_t, Free> p_;
  std::size_t n_ = 0;
};

}  // namespace bnnflow::engine
