// LossColumns(run_dir): the step, kimg, loss and lr columns of a run's
// loss.csv (training/train_network.h), one line per logged step — what two runs of
// the same training must share; the timing columns (images/s, wall time)
// always differ. "" when the file cannot be read; "malformed: LINE" for a
// line with fewer than four columns.
// LossMismatch(a, b, tolerance): "" when both runs logged the same steps,
// kimg and lr and losses within `tolerance` of each other (two trainings
// that differ only in the order of float additions: a logged loss's last
// decimal may differ); else what differs.
//
// Example:
//   EXPECT_EQ(LossColumns(two_ranks_dir), LossColumns(other_two_ranks_dir));   // bit for bit
//   EXPECT_EQ(LossMismatch(one_process_dir, two_ranks_dir, 2e-4), "");

#ifndef DIFFMEM_TESTING_LOSS_COLUMNS_H_
#define DIFFMEM_TESTING_LOSS_COLUMNS_H_

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
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

inline std::string LossMismatch(const std::string& run_a, const std::string& run_b, double tolerance) {
  const std::string a = LossColumns(run_a), b = LossColumns(run_b);
  const std::vector<std::string> la = absl::StrSplit(a, '\n', absl::SkipEmpty());
  const std::vector<std::string> lb = absl::StrSplit(b, '\n', absl::SkipEmpty());
  if (la.size() < 2 || la.size() != lb.size()) return absl::StrCat("logged lines differ:\n", a, "vs\n", b);
  for (size_t i = 1; i < la.size(); ++i) {
    const std::vector<std::string> ca = absl::StrSplit(la[i], ','), cb = absl::StrSplit(lb[i], ',');
    double loss_a = 0, loss_b = 0;
    if (ca.size() != 4 || cb.size() != 4 || ca[0] != cb[0] || ca[1] != cb[1] || ca[3] != cb[3] ||
        !absl::SimpleAtod(ca[2], &loss_a) || !absl::SimpleAtod(cb[2], &loss_b) ||
        !(std::fabs(loss_a - loss_b) <= tolerance)) {
      return absl::StrCat("'", la[i], "' vs '", lb[i], "' (loss tolerance ", tolerance, ")");
    }
  }
  return "";
}

}  // namespace testing_runs
}  // namespace diffmem

#endif  // DIFFMEM_TESTING_LOSS_COLUMNS_H_
