#include "engine/plan.h"

#include <algorithm>
#include <cstdint>
#include <tuple>

#include "engine/buffer.h"

namespace bnnflow::engine {

namespace {
struct Placed {
  int first, last;
  std::size_t begin, end;  // bytes, end rounded up to the alignment
};
}  // namespace

ArenaPlan place(std::vector<Lifetime> lifetimes, std::size_t num_tensors) {
  std::sort(lifetimes.begin(), lifetimes.end(), [](const Lifetime& a, const Lifetime& b) {
    if (a.size != b.size) return a.size > b.size;
    if (a.first != b.first) return a.first < b.first;
    return *a.name < *b.name;
  });
  ArenaPlan plan;
  plan.offset.assign(num_tensors, SIZE_MAX);
  std::vector<Placed> placed;  // sorted by first
  placed.reserve(lifetimes.size());
  int longest = 0;             // longest live range placed so far (last - first)
  std::vector<std::pair<std::size_t, std::size_t>> busy;
  for (const Lifetime& t : lifetimes) {
    const std::size_t need = round_up(t.size);
    busy.clear();
    // Every placed range overlapping [t.first, t.last] starts in [t.first - longest, t.last].
    auto lo = std::lower_bound(placed.begin(), placed.end(), t.first - longest,
                               [](const Placed& p, int v) { return p.first < v; });
    for (auto it = lo; it != placed.end() && it->first <= t.last; ++it) {
      if (it->last >= t.first) busy.emplace_back(it->begin, it->end);
    }
    std::sort(busy.begin(), busy.end());
    std::size_t offset = 0;
    for (const auto& [b, e] : busy) {
      if (b >= offset && b - offset >= need) break;
      offset = std::max(offset, e);
    }
    Placed p{t.first, t.last, offset, offset + need};
    auto at = std::upper_bound(placed.begin(), placed.end(), t.first,
                               [](int v, const Placed& q) { return v < q.first; });
    placed.insert(at, p);
    longest = std::max(longest, t.last - t.first);
    plan.offset[static_cast<std::size_t>(t.tensor)] = offset;
    plan.peak = std::max(plan.peak, offset + need);
  }
  return plan;
}

}  // namespace bnnflow::engine
