// The two JSON directions of a config struct from its one field list. A
// struct offers a visitor that calls v(key, field) for each field it stores
// (or v(key, field, util::kOptional) for a field newer than the first files:
// when absent, the field keeps the value it had, the struct's default);
// JsonWriter puts the fields into a JSON object, JsonReader reads them back
// with util/json_fields.h's checked reading, so a wrong or missing field is an
// error naming the file and the field. A field is a bool, an integer, a
// double, a std::string, a std::vector<int64_t>, or an enum with
// util/enum_names.h names (stored as its name); a field with another textual
// form goes through v.Text(key, field, format, parse).
//
// Example:
//   template <class T, class V>   // T: Options or const Options
//   void VisitOptionsFields(T& o, V&& v) { v("steps", o.steps); v("mode", o.mode); v("extra", o.extra, util::kOptional); }
//   nlohmann::json j = util::JsonWriter::Write(options, [](auto& o, auto& v) { VisitOptionsFields(o, v); });
//   absl::StatusOr<Options> back = util::JsonReader::Read<Options>(j, "config.json: options",
//                                                              [](auto& o, auto& v) { VisitOptionsFields(o, v); });

#ifndef DIFFMEM_UTIL_JSON_VISIT_H_
#define DIFFMEM_UTIL_JSON_VISIT_H_

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "util/enum_names.h"
#include "util/json_fields.h"

namespace diffmem {
namespace util {

// A field that files from before it may lack.
struct OptionalField {};
inline constexpr OptionalField kOptional{};

class JsonWriter {
 public:
  template <class T, class Visit>
  static nlohmann::json Write(const T& value, Visit&& visit) {
    JsonWriter w;
    visit(value, w);
    return std::move(w.j_);
  }

  template <class F>
  void operator()(const char* key, const F& field, OptionalField = {}) {
    if constexpr (std::is_enum<F>::value) {
      j_[key] = EnumName(field);
    } else {
      j_[key] = field;
    }
  }
  template <class F, class Format, class Parse>
  void Text(const char* key, const F& field, Format format, Parse) {
    j_[key] = format(field);
  }
  // A nested object with its own field list.
  template <class F, class Visit>
  void Object(const char* key, const F& field, Visit&& visit) {
    j_[key] = Write(field, visit);
  }

 private:
  nlohmann::json j_ = nlohmann::json::object();
};

class JsonReader {
 public:
  // `value` starts as T's default (or `start`) and each field present is read into it.
  template <class T, class Visit>
  static absl::StatusOr<T> Read(const nlohmann::json& j, const std::string& where, Visit&& visit, T start = T()) {
    if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, ": must be a JSON object"));
    JsonReader r(j, where);
    visit(start, r);
    if (!r.status().ok()) return r.status();
    return start;
  }

  template <class F>
  void operator()(const char* key, F& field, OptionalField) {
    if (fields_.Get(key, /*required=*/false) != nullptr) (*this)(key, field);
  }
  template <class F>
  void operator()(const char* key, F& field) {
    if constexpr (std::is_same<F, bool>::value) {
      field = fields_.Bool(key);
    } else if constexpr (std::is_enum<F>::value) {
      const nlohmann::json* v = fields_.Get(key);
      if (v == nullptr) return;
      if (!v->is_string()) return fields_.Check(false, key, "must be a string");
      absl::StatusOr<F> parsed = ParseEnum<F>(v->get<std::string>(), key);
      fields_.Check(parsed.ok(), key, parsed.ok() ? "" : std::string(parsed.status().message()));
      if (parsed.ok()) field = *parsed;
    } else if constexpr (std::is_integral<F>::value) {
      field = static_cast<F>(fields_.Integer(key));
    } else if constexpr (std::is_floating_point<F>::value) {
      field = fields_.Number(key);
    } else if constexpr (std::is_same<F, std::string>::value) {
      field = fields_.String(key);
    } else {
      static_assert(std::is_same<F, std::vector<int64_t>>::value,
                    "a JSON field is bool, integer, double, std::string, std::vector<int64_t> or an enum");
      const nlohmann::json* v = fields_.Array(key);
      if (v == nullptr) return;
      std::vector<int64_t> out;
      for (const nlohmann::json& e : *v) {
        if (!e.is_number_integer()) return fields_.Check(false, key, "must be an array of integers");
        out.push_back(e.get<int64_t>());
      }
      field = std::move(out);
    }
  }
  // `parse(text)` returns absl::StatusOr<F>; its error is the field's.
  template <class F, class Format, class Parse>
  void Text(const char* key, F& field, Format, Parse parse) {
    const std::string text = fields_.String(key);
    if (!fields_.status().ok()) return;
    auto parsed = parse(text);
    fields_.Check(parsed.ok(), key, parsed.ok() ? "" : std::string(parsed.status().message()));
    if (parsed.ok()) field = *std::move(parsed);
  }
  template <class F, class Visit>
  void Object(const char* key, F& field, Visit&& visit) {
    const nlohmann::json* v = fields_.Object(key);
    if (v == nullptr) return;
    absl::StatusOr<F> inner = Read<F>(*v, absl::StrCat(where_, ": ", key), visit, field);
    if (inner.ok()) {
      field = *std::move(inner);
    } else if (nested_.ok()) {
      nested_ = inner.status();  // names the file and the nested field itself
    }
  }

 private:
  absl::Status status() const { return fields_.status().ok() ? nested_ : fields_.status(); }

  JsonReader(const nlohmann::json& j, std::string where) : fields_(j, where), where_(std::move(where)) {}
  JsonFields fields_;
  std::string where_;
  absl::Status nested_;
};

}  // namespace util
}  // namespace diffmem

#endif  // DIFFMEM_UTIL_JSON_VISIT_H_
