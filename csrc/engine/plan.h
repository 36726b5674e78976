// Activation arena planning (the algorithm of bnnflow.runtime.memory): every tensor a step
// defines gets a byte range of one arena, live from its defining step to its last reader (the
// graph output: to the end); tensors live at the same time get disjoint ranges. Greedy:
// largest first (then earliest, then by name), lowest 64-byte-aligned offset free for its
// whole lifetime. Planned per sample; a batch of N uses N * offset.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace bnnflow::engine {

struct Lifetime {
  int tensor;          // tensor id
  std::size_t size;    // bytes per sample
  int first, last;     // step indices, inclusive
  const std::string* name;  // tie-break, as the Python planner
};

struct ArenaPlan {
  std::vector<std::size_t> offset;  // per tensor id, bytes per sample (unplanned: SIZE_MAX)
  std::size_t peak = 0;             // arena bytes per sample
};

// Plans `lifetimes` for `num_tensors` tensor ids. Near-linear for the short-lived tensors of
// real networks (candidates are found by start step, not by a scan of all placed tensors).
ArenaPlan place(std::vector<Lifetime> lifetimes, std::size_t num_tensors);

}  // namespace bnnflow::engine
