#include "engine/json.h"

#include "engine/error.h"

namespace bnnflow::engine {

Json parse_json(const char* data, std::size_t size, const std::string& what) {
  auto limit = [](int depth, Json::parse_event_t, Json&) {
    if (depth > kMaxJsonDepth) throw std::length_error("nested too deeply");
    return true;
  };
  try {
    return Json::parse(data, data + size, limit, /*allow_exceptions=*/true,
                       /*ignore_comments=*/false);
  } catch (const Json::exception& e) {
    format_error(what + " is not valid JSON: " + e.what(), what);
  } catch (const std::length_error&) {
    format_error(what + " is not valid JSON: nested more than " +
                     std::to_string(kMaxJsonDepth) + " levels deep",
                 what);
  }
}

bool json_int(const Json& v, std::int64_t* out) {
  if (v.is_number_unsigned()) {
    const std::uint64_t u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) return false;
    *out = static_cast<std::int64_t>(u);
    return true;
  }
  if (v.is_number_integer()) {
    *out = v.get<std::int64_t>();
    return true;
  }
  return false;
}

std::string quote(const std::string& text, std::size_t limit) {
  std::string body = text.size() > limit ? text.substr(0, limit) + "..." : text;
  std::string out = "'";
  for (char c : body) {
    if (c == '\'' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[(c >> 4) & 0xF];
      out += hex[c & 0xF];
      continue;
    }
    out += c;
  }
  return out + "'";
}

std::string short_repr(const Json& v) {
  std::string text;
  if (v.is_string()) {
    text = quote(v.get<std::string>(), 80);
  } else if (v.is_null()) {
    text = "None";
  } else if (v.is_boolean()) {
    text = v.get<bool>() ? "True" : "False";
  } else {
    text = v.dump();
  }
  return text.size() <= 60 ? text : text.substr(0, 57) + "...";
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
