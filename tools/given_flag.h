// Given<T>: a flag type that remembers whether the command line (or a
// --flagfile) set it, through abseil's own extension point for flag types
// (AbslParseFlag / AbslUnparseFlag). Tools start from a base configuration
// (a preset, the training defaults) and overlay only the flags given.
//
// Why not std::optional<T>: abseil reads an empty value ("--attn=") as "no
// value", but for diffmem's list and path flags (std::string) the empty value
// means something ("no attention", "no second source"). Given<std::string>
// keeps it; for other types an empty value is "no value", as with
// std::optional (abseil also parses the default's empty form at start-up).
//
// Example:
//   ABSL_FLAG(diffmem::tools::Given<int64_t>, channels, {}, "model channels");
//   int64_t width = 128;
//   diffmem::tools::Overlay(absl::GetFlag(FLAGS_channels), width);   // 128 unless --channels=...

#ifndef DIFFMEM_TOOLS_GIVEN_FLAG_H_
#define DIFFMEM_TOOLS_GIVEN_FLAG_H_

#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/flags/marshalling.h"
#include "absl/strings/string_view.h"

namespace diffmem {
namespace tools {

template <class T>
struct Given {
  std::optional<T> value;  // set iff the flag was given

  bool given() const { return value.has_value(); }
};

template <class T>
bool AbslParseFlag(absl::string_view text, Given<T>* flag, std::string* error) {
  if constexpr (!std::is_same_v<T, std::string>) {
    if (text.empty()) {
      flag->value.reset();
      return true;
    }
  }
  T v{};
  if (!absl::ParseFlag(text, &v, error)) return false;
  flag->value = std::move(v);
  return true;
}

template <class T>
std::string AbslUnparseFlag(const Given<T>& flag) {
  return flag.value ? absl::UnparseFlag(*flag.value) : std::string();
}

// Sets `field` to the flag's value when the flag was given.
template <class T, class U>
void Overlay(const Given<T>& flag, U& field) {
  if (flag.value) field = *flag.value;
}

}  // namespace tools
}  // namespace diffmem

#endif  // DIFFMEM_TOOLS_GIVEN_FLAG_H_
