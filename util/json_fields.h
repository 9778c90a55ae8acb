// Schema-checked reading of a JSON object: typed getters that record the first
// problem as an error naming the file and the field, so a reader can fetch
// every field and check status() once at the end.
//
// Example:
//   diffmem::util::JsonFields f(j, "runs/n000040/emm_result.json");
//   int64_t n = f.Integer("n");
//   double ratio = f.Number("ratio");
//   f.Check(ratio >= 0 && ratio <= 1, "ratio", "must be in [0, 1]");
//   if (!f.status().ok()) return f.status();  // "...: field 'ratio' must be a number"
//
//   // An array of records, each read from its own JsonFields ("...: curve[3]: field ...").
//   absl::StatusOr<std::vector<Point>> points = ReadJsonArray<Point>(j["curve"], where, "curve",
//       [](JsonFields& f) { return Point{f.Integer("images"), f.Number("ratio")}; });

#ifndef DIFFMEM_UTIL_JSON_FIELDS_H_
#define DIFFMEM_UTIL_JSON_FIELDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace diffmem {
namespace util {

class JsonFields {
 public:
  JsonFields(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {}
  // It keeps a reference to the object: a temporary would dangle.
  JsonFields(nlohmann::json&& j, std::string where) = delete;

  // OK, or the first problem found.
  absl::Status status() const { return status_; }

  // The field, or null (a problem when `required`; null counts as absent).
  const nlohmann::json* Get(const char* key, bool required = true) {
    if (!j_.is_object()) return Fail(key, "is not inside a JSON object"), nullptr;
    auto it = j_.find(key);
    if (it == j_.end() || (it->is_null() && required)) {
      if (required) Fail(key, "is missing");
      return nullptr;
    }
    return &*it;
  }
  double Number(const char* key) {
    const nlohmann::json* v = Get(key);
    if (!v) return 0;
    if (!v->is_number()) return Fail(key, "must be a number"), 0;
    return v->get<double>();
  }
  int64_t Integer(const char* key) {
    const nlohmann::json* v = Get(key);
    if (!v) return 0;
    if (!v->is_number_integer()) return Fail(key, "must be an integer"), 0;
    return v->get<int64_t>();
  }
  bool Bool(const char* key) {
    const nlohmann::json* v = Get(key);
    if (!v) return false;
    if (!v->is_boolean()) return Fail(key, "must be true or false"), false;
    return v->get<bool>();
  }
  std::string String(const char* key) {
    const nlohmann::json* v = Get(key);
    if (!v) return "";
    if (!v->is_string()) return Fail(key, "must be a string"), "";
    return v->get<std::string>();
  }
  std::optional<double> OptionalNumber(const char* key) {
    const nlohmann::json* v = Get(key, /*required=*/false);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_number()) return Fail(key, "must be a number or null"), std::nullopt;
    return v->get<double>();
  }
  std::optional<int64_t> OptionalInteger(const char* key) {
    const nlohmann::json* v = Get(key, /*required=*/false);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_number_integer()) return Fail(key, "must be an integer or null"), std::nullopt;
    return v->get<int64_t>();
  }
  const nlohmann::json* Array(const char* key) {
    const nlohmann::json* v = Get(key);
    if (v && !v->is_array()) return Fail(key, "must be an array"), nullptr;
    return v;
  }
  const nlohmann::json* Object(const char* key) {
    const nlohmann::json* v = Get(key);
    if (v && !v->is_object()) return Fail(key, "must be an object"), nullptr;
    return v;
  }
  // Records "field `key` `what`" unless `ok`.
  void Check(bool ok, const char* key, const std::string& what) {
    if (!ok) Fail(key, what);
  }

 private:
  void Fail(const char* key, const std::string& what) {
    if (status_.ok()) status_ = absl::InvalidArgumentError(absl::StrCat(where_, ": field '", key, "' ", what));
  }

  const nlohmann::json& j_;
  std::string where_;
  absl::Status status_;
};

// The elements of the JSON array `j`, each read by `read(JsonFields&) -> T`
// from its own fields ("WHERE: NAME[i]" in messages); the first problem ends it.
template <class T, class Read>
absl::StatusOr<std::vector<T>> ReadJsonArray(const nlohmann::json& j, const std::string& where, const std::string& name,
                                             Read read) {
  if (!j.is_array()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", name, " must be an array"));
  std::vector<T> out;
  for (size_t i = 0; i < j.size(); ++i) {
    JsonFields f(j[i], absl::StrCat(where, ": ", name, "[", i, "]"));
    T item = read(f);
    if (!f.status().ok()) return f.status();
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace util
}  // namespace diffmem

#endif  // DIFFMEM_UTIL_JSON_FIELDS_H_
