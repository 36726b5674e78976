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

// `text` with every byte that is not part of a well-formed UTF-8 sequence written as \xNN, so
// messages that quote a hostile file's bytes are always valid UTF-8.
inline std::string utf8_safe(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) ok = (s[i + k] & 0xC0) == 0x80;
    if (ok && len == 2) ok = c >= 0xC2;
    if (ok && len == 3) {
      const unsigned cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
      ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
    }
    if (ok && len == 4) {
      const unsigned cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12);
      ok = cp >= 0x10000 && cp <= 0x10FFFF;
    }
    if (ok) {
      out.append(text, i, len);
      i += len;
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
      ++i;
    }
  }
  return out;
}

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message, std::string field = {})
      : std::runtime_error(utf8_safe(message)), kind_(kind), field_(utf8_safe(field)) {}
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
