// Errors of the native runtime: every problem with a file, a graph or a caller's input is a
// bnnflow::engine::Error whose message names the op / tensor / field and the rule broken
// (the same wording as the Python validator, bnnflow.graph.validate). The C API turns it into
// a status code plus the message; nothing else escapes.
#pragma once
#include <stdexcept>
#include <string>

namespace bnnflow::engine {

enum class ErrorKind {
  kFormat = 1,   // the .bnn file (container, JSON, graph, params) breaks a rule
  kInput = 2,    // a caller's argument (input buffer, batch, thread count, ISA name)
  kIo = 3,       // the file cannot be read
  kUnsupported = 4,  // this CPU / build cannot do what was asked (e.g. an ISA)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message, std::string field = {})
      : std::runtime_error(message), kind_(kind), field_(std::move(field)) {}
  ErrorKind kind() const { return kind_; }
  // The field the message is about ("ops[3].attrs.stride", "output_spec", ...), may be empty.
  const std::string& field() const { return field_; }

 private:
  ErrorKind kind_;
  std::string field_;
};

[[noreturn]] inline void format_error(const std::string& message, const std::string& field = {}) {
  throw Error(ErrorKind::kFormat, message, field);
}
[[noreturn]] inline void input_error(const std::string& message) {
  throw Error(ErrorKind::kInput, message);
}

}  // namespace bnnflow::engine
