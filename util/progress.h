// How long work takes, as people read it: durations ("1m05s", "2h03m").
//
// Example:
//   std::string eta = diffmem::util::FormatDuration(65.4);  // "1m05s"

#ifndef DIFFMEM_UTIL_PROGRESS_H_
#define DIFFMEM_UTIL_PROGRESS_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "absl/strings/str_format.h"

namespace diffmem {
namespace util {

// "MmSSs" below an hour, "HhMMm" from an hour on; negative counts as 0.
inline std::string FormatDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  return s >= 3600 ? absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60) : absl::StrFormat("%dm%02ds", s / 60, s % 60);
}

}  // namespace util
}  // namespace diffmem

#endif  // DIFFMEM_UTIL_PROGRESS_H_
