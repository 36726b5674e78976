// std::vector storage aligned to a cache line (64 bytes, one AVX-512 vector), for the
// prepared weights and parameter tables that the SIMD kernels read with full-vector loads:
// from a plain std::vector (16-byte aligned by malloc) every 64-byte load of a table at 16,
// 32 or 48 bytes past a line splits into two cache lines (and every 32-byte load at 16 or 48
// bytes past one), which made identical layers differ by 7-14 % depending on where the heap
// put their weights (docs/performance.md, "Identical blocks, different times").
#pragma once
#include <cstddef>
#include <limits>
#include <new>
#include <vector>

namespace bnnflow {

inline constexpr std::size_t kCacheLine = 64;

template <class T, std::size_t kAlign = kCacheLine>
struct AlignedAllocator {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = AlignedAllocator<U, kAlign>;
  };
  AlignedAllocator() noexcept = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U, kAlign>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{kAlign}));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{kAlign}); }
  template <class U>
  bool operator==(const AlignedAllocator<U, kAlign>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const AlignedAllocator<U, kAlign>&) const noexcept {
    return false;
  }
};

// A std::vector whose data() is 64-byte aligned.
template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace bnnflow
