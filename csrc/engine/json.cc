#include "engine/json.h"

#include <charconv>
#include <cmath>

#include "engine/error.h"

namespace bnnflow::engine {

namespace {

// Deepest nesting of [ and { outside strings (linear pre-scan; the SAX DOM parser itself is
// iterative, and nlohmann's callback parser, which could count depth, rescans every object
// at its end: quadratic in the keys of an object).
int max_depth(const char* data, std::size_t size) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < size; ++i) {
    const char c = data[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > kMaxJsonDepth) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

template <class J>
J parse_limited(const char* data, std::size_t size, const std::string& what) {
  if (max_depth(data, size) > kMaxJsonDepth) {
    format_error(what + " is not valid JSON: nested more than " +
                     std::to_string(kMaxJsonDepth) + " levels deep",
                 what);
  }
  try {
    return J::parse(data, data + size, nullptr, /*allow_exceptions=*/true,
                    /*ignore_comments=*/false);
  } catch (const typename J::exception& e) {
    format_error(what + " is not valid JSON: " + e.what(), what);
  }
}

template <class J>
bool json_int_impl(const J& v, std::int64_t* out) {
  if (v.is_number_unsigned()) {
    const std::uint64_t u = v.template get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) return false;
    *out = static_cast<std::int64_t>(u);
    return true;
  }
  if (v.is_number_integer()) {
    *out = v.template get<std::int64_t>();
    return true;
  }
  return false;
}

}  // namespace

Json parse_json(const char* data, std::size_t size, const std::string& what) {
  return parse_limited<Json>(data, size, what);
}


bool json_int(const Json& v, std::int64_t* out) { return json_int_impl(v, out); }

namespace {

// Code points Python's repr escapes beyond ASCII (an approximation of not str.isprintable():
// C1 controls, NBSP, soft hyphen, private use, and the unassigned planes above U+323AF).
bool py_unprintable(std::uint32_t cp) {
  return (cp >= 0x80 && cp <= 0xA0) || cp == 0xAD || (cp >= 0xD800 && cp <= 0xF8FF) ||
         cp >= 0x323B0;
}

// Python's repr of a str: single quotes (double when the text has ' and no "), control and
// unprintable characters escaped as \xNN, \uNNNN or \UNNNNNNNN.
std::string py_str(const std::string& s) {
  const bool single = s.find('\'') == std::string::npos || s.find('"') != std::string::npos;
  const char q = single ? '\'' : '"';
  static const char* hex = "0123456789abcdef";
  auto esc = [&](std::string& out, std::uint32_t cp) {
    const int digits = cp < 0x100 ? 2 : cp < 0x10000 ? 4 : 8;
    out += digits == 2 ? "\\x" : digits == 4 ? "\\u" : "\\U";
    for (int i = digits - 1; i >= 0; --i) out += hex[(cp >> (4 * i)) & 0xF];
  };
  std::string out(1, q);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c >= 0x80) {  // a UTF-8 sequence (the JSON parser checked it is well formed)
      const std::size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
      std::uint32_t cp = c & (len == 2 ? 0x1Fu : len == 3 ? 0x0Fu : 0x07u);
      for (std::size_t k = 1; k < len && i + k < n; ++k) cp = (cp << 6) | (p[i + k] & 0x3Fu);
      if (py_unprintable(cp)) esc(out, cp);
      else out.append(s, i, len);
      i += len;
      continue;
    }
    if (c == '\\') out += "\\\\";
    else if (c == static_cast<unsigned char>(q)) out += std::string("\\") + static_cast<char>(q);
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7F) esc(out, c);
    else out += static_cast<char>(c);
    ++i;
  }
  return out + q;
}

// Python's repr of a float: the shortest digits that round-trip, fixed notation for decimal
// exponents in [-4, 16), else d.ddde+XX.
std::string py_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string sci(buf, r.ptr);  // [-]d[.ddd]e[+-]XX
  const std::size_t e = sci.find('e');
  const bool neg = sci[0] == '-';
  std::string digits;
  for (std::size_t i = neg ? 1 : 0; i < e; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  const int exp = std::stoi(sci.substr(e + 1));
  std::string out = neg ? "-" : "";
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<std::size_t>(exp) + 1 >= digits.size()) {
      out += digits + std::string(static_cast<std::size_t>(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<std::size_t>(exp) + 1) + "." +
             digits.substr(static_cast<std::size_t>(exp) + 1);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  const int a = exp < 0 ? -exp : exp;
  return out + (exp < 0 ? "e-" : "e+") + (a < 10 ? "0" : "") + std::to_string(a);
}

// Python's repr of a parsed JSON value, stopping once `limit` characters are written.
void py_repr(const Json& v, std::string& out, std::size_t limit) {
  if (out.size() > limit) return;
  switch (v.type()) {
    case Json::value_t::null: out += "None"; return;
    case Json::value_t::boolean: out += v.get<bool>() ? "True" : "False"; return;
    case Json::value_t::string: out += py_str(v.get_ref<const std::string&>()); return;
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const Json& x : v) {
        if (!first) out += ", ";
        first = false;
        py_repr(x, out, limit);
        if (out.size() > limit) return;
      }
      out += ']';
      return;
    }
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ", ";
        first = false;
        out += py_str(it.key()) + ": ";
        py_repr(it.value(), out, limit);
        if (out.size() > limit) return;
      }
      out += '}';
      return;
    }
    case Json::value_t::number_float: out += py_float(v.get<double>()); return;
    default: out += v.dump(); return;
  }
}

}  // namespace

std::string quote(const std::string& text, std::size_t limit) {
  return py_str(text.size() > limit ? text.substr(0, limit) + "..." : text);
}

// The first n code points of UTF-8 text.
std::string utf8_prefix(const std::string& s, std::size_t n) {
  std::size_t i = 0, count = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && count++ == n) break;
  }
  return s.substr(0, i);
}

std::string short_repr(const Json& v) {
  std::string text;
  py_repr(v, text, 256);
  return utf8_length(text) <= 60 ? text : utf8_prefix(text, 57) + "...";
}

const char* py_type(const Json& v) {
  switch (v.type()) {
    case Json::value_t::string: return "str";
    case Json::value_t::boolean: return "bool";
    case Json::value_t::null: return "NoneType";
    case Json::value_t::array: return "list";
    case Json::value_t::object: return "dict";
    case Json::value_t::number_float: return "float";
    default: return "int";
  }
}

std::size_t utf8_length(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace bnnflow::engine
