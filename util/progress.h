// How long work takes, as people read it: durations ("1m05s", "2h03m") and
// the progress line every long-running tool prints,
//   "640/10000 images (6.4%)  123 images/s  ETA 1m16s"
// (//tools:train prints the same fields for steps, training/train_network.h).
//
// Example:
//   diffmem::util::ProgressMeter meter(/*total=*/10000, "images");
//   for (...) { ...; std::fprintf(stderr, "sample: %s\n", meter.Line(done).c_str()); }

#ifndef DIFFMEM_UTIL_PROGRESS_H_
#define DIFFMEM_UTIL_PROGRESS_H_

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"

namespace diffmem {
namespace util {

// "MmSSs" below an hour, "HhMMm" from an hour on; negative counts as 0.
inline std::string FormatDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  return s >= 3600 ? absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60) : absl::StrFormat("%dm%02ds", s / 60, s % 60);
}

// "done/total unit (pct%)  rate unit/s  ETA d" for work started `elapsed_s` ago.
inline std::string FormatProgressLine(int64_t done, int64_t total, const std::string& unit, double elapsed_s) {
  const double rate = elapsed_s > 0 ? done / elapsed_s : 0;
  const std::string eta = rate > 0 ? FormatDuration((total - done) / rate) : std::string("?");
  return absl::StrFormat("%d/%d %s (%.1f%%)  %.0f %s/s  ETA %s", done, total, unit,
                         100.0 * done / std::max<int64_t>(total, 1), rate, unit, eta);
}

// A progress line for work of `total` units, timed from construction.
class ProgressMeter {
 public:
  ProgressMeter(int64_t total, std::string unit)
      : total_(total), unit_(std::move(unit)), start_(std::chrono::steady_clock::now()) {}

  std::string Line(int64_t done) const { return FormatProgressLine(done, total_, unit_, elapsed_s()); }
  double elapsed_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  int64_t total_;
  std::string unit_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace util
}  // namespace diffmem

#endif  // DIFFMEM_UTIL_PROGRESS_H_
