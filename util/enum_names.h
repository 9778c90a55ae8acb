// Enums with names: library code holds enums, JSON files and flags hold their
// names; this is the one place the two meet. An enum opts in by specializing
// EnumNames<E> with a table of (value, name) pairs.
//
//   EnumName(e)                 — "ema"
//   ParseEnum<E>(text, what)    — the value, or "unknown weights 'x' (expected one of: raw, ema)"
//
// Example:
//   enum class Weights { kRaw, kEma };
//   template <> struct diffmem::EnumNames<Weights> {
//     static constexpr std::pair<Weights, const char*> kNames[] = {{Weights::kRaw, "raw"}, {Weights::kEma, "ema"}};
//   };
//   absl::StatusOr<Weights> w = diffmem::ParseEnum<Weights>("ema", "weights");

#ifndef DIFFMEM_UTIL_ENUM_NAMES_H_
#define DIFFMEM_UTIL_ENUM_NAMES_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace diffmem {

// Specialize with `static constexpr std::pair<E, const char*> kNames[] = {...};`.
template <class E>
struct EnumNames;

template <class E>
const char* EnumName(E e) {
  for (const auto& [value, name] : EnumNames<E>::kNames) {
    if (value == e) return name;
  }
  return "?";  // unreachable for a complete table (enum_names_test checks each table)
}

template <class E>
std::vector<std::string> EnumNameList() {
  std::vector<std::string> out;
  for (const auto& entry : EnumNames<E>::kNames) out.push_back(entry.second);
  return out;
}

template <class E>
absl::StatusOr<E> ParseEnum(absl::string_view text, absl::string_view what) {
  for (const auto& [value, name] : EnumNames<E>::kNames) {
    if (text == name) return value;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown ", what, " '", text, "' (expected one of: ",
                                                 absl::StrJoin(EnumNameList<E>(), ", "), ")"));
}

}  // namespace diffmem

#endif  // DIFFMEM_UTIL_ENUM_NAMES_H_
