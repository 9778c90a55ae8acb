// JSON files: read and parse with errors that name the file, write atomically
// (pretty-printed, one trailing newline), and say where two documents differ.
//
//   ReadJsonFile(path)              — NotFound when absent, InvalidArgument when not JSON
//   WriteJsonFile(path, j)          — j.dump(2) + "\n", temp file + rename
//   FirstJsonDifference(was, now)   — "training.lr: was 0.001, now 0.002" ("" when equal)
//
// Example:
//   absl::StatusOr<nlohmann::json> stored = diffmem::util::ReadJsonFile(dir + "/study.json");
//   if (std::string d = diffmem::util::FirstJsonDifference(*stored, now); !d.empty()) { ... }

#ifndef DIFFMEM_UTIL_JSON_FILE_H_
#define DIFFMEM_UTIL_JSON_FILE_H_

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "util/atomic_file.h"

namespace diffmem {
namespace util {

inline absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON"));
  return j;
}

inline absl::Status WriteJsonFile(const std::string& path, const nlohmann::json& j) {
  return WriteFileAtomically(path, j.dump(2) + "\n");
}

// The first difference between two JSON documents, as "key.sub: was X, now Y"
// (objects compared key by key, in `now`'s order, then keys only in `was`).
inline std::string FirstJsonDifference(const nlohmann::json& was, const nlohmann::json& now,
                                       const std::string& prefix = "") {
  if (was.is_object() && now.is_object()) {
    for (const auto& [k, v] : now.items()) {
      if (!was.contains(k)) return absl::StrCat(prefix, k, ": absent before, now ", v.dump());
      if (std::string d = FirstJsonDifference(was.at(k), v, absl::StrCat(prefix, k, ".")); !d.empty()) return d;
    }
    for (const auto& [k, v] : was.items()) {
      if (!now.contains(k)) return absl::StrCat(prefix, k, ": was ", v.dump(), ", now absent");
    }
    return "";
  }
  if (was != now) {
    const std::string key = prefix.empty() ? "value" : prefix.substr(0, prefix.size() - 1);
    return absl::StrCat(key, ": was ", was.dump(), ", now ", now.dump());
  }
  return "";
}

}  // namespace util
}  // namespace diffmem

#endif  // DIFFMEM_UTIL_JSON_FILE_H_
