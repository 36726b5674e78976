// The committed engine fixtures (tests/cpp/engine/data/, made by make_fixtures.py): their
// folder and a whole file's bytes, for the C++ engine tests.
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace bnnflow_test {

// This header sits beside data/, so its own path names the folder.
inline std::string fixture_dir() {
  const std::string f = __FILE__;
  return f.substr(0, f.find_last_of('/')) + "/data/";
}

inline std::vector<std::uint8_t> read_fixture(const std::string& name) {
  std::ifstream in(fixture_dir() + name, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace bnnflow_test
