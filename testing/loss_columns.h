// LossColumns(run_dir): the step, kimg, loss and lr columns of a run's
// loss.csv (diffusion/train.h), one line per logged step — what two runs of
// the same training must share; the timing columns (images/s, wall time)
// always differ. "" when the file cannot be read; "malformed: LINE" for a
// line with fewer than four columns.
//
// Example:
//   EXPECT_EQ(LossColumns(two_ranks_dir), LossColumns(one_process_dir));

#ifndef DIFFMEM_TESTING_LOSS_COLUMNS_H_
#define DIFFMEM_TESTING_LOSS_COLUMNS_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "util/atomic_file.h"

namespace diffmem {
namespace testing_runs {

inline std::string LossColumns(const std::string& run_dir) {
  absl::StatusOr<std::string> text = util::ReadFileToString(run_dir + "/loss.csv");
  if (!text.ok()) return "";
  std::string out;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    const std::vector<absl::string_view> cols = absl::StrSplit(line, ',');
    if (cols.size() < 4) return absl::StrCat("malformed: ", line);
    absl::StrAppend(&out, cols[0], ",", cols[1], ",", cols[2], ",", cols[3], "\n");
  }
  return out;
}

}  // namespace testing_runs
}  // namespace diffmem

#endif  // DIFFMEM_TESTING_LOSS_COLUMNS_H_
