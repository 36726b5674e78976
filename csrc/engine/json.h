// nlohmann-json with the limits every document the runtime parses gets: nesting depth capped
// (a hostile header cannot recurse deeply), NaN / Infinity are not JSON, integers read
// exactly. Helpers that describe a value for error messages the way Python's repr would.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace bnnflow::engine {

// Objects are std::maps (sorted keys, O(log n) insertion): parsing stays O(n log n) however
// many keys a hostile object has (ordered_json inserts in linear time per key). Messages that
// show a JSON object therefore list its keys sorted, where Python keeps file order.
using Json = nlohmann::json;

// Deepest nesting accepted by parse_json (the Python validator allows 32 levels of free
// metadata below graph.metadata, a few levels deep in the document).
inline constexpr int kMaxJsonDepth = 100;

using MapJson = Json;  // the safetensors header (may list hundreds of thousands of tensors)

// Parses text [data, data + size) as JSON; `what` names the document in the error.
Json parse_json(const char* data, std::size_t size, const std::string& what);

// True if v is a JSON integer (not bool, not float) that fits int64; sets *out.
bool json_int(const Json& v, std::int64_t* out);

// `'text'` as Python's repr would quote it (single quotes, shortened past `limit` chars).
std::string quote(const std::string& text, std::size_t limit = 200);
// A short description of a JSON value for messages ("'abc'", "3", "None", "[1, 2]", ...).
std::string short_repr(const Json& v);
// Python type name of a JSON value ("str", "int", "float", "bool", "NoneType", "list", "dict").
const char* py_type(const Json& v);
// Number of Unicode code points in UTF-8 text (what Python's len() counts).
std::size_t utf8_length(const std::string& s);

}  // namespace bnnflow::engine
