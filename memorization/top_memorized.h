// The picture researchers look at first: the most memorized generated samples,
// each beside its nearest training image and captioned with its d1/d2 (the
// paper's memorization statistic; < 1/3 counts as memorized). Small images
// are upscaled so each pair is at least 64 pixels high.
//
// Example:
//   MemorizationReport r = MemorizationRatio<L2Distance>(samples_f, train_f);
//   absl::Status s = WriteTopMemorized("top_memorized.png", r, samples_u8, train_u8, /*top=*/16);

#ifndef DIFFMEM_MEMORIZATION_TOP_MEMORIZED_H_
#define DIFFMEM_MEMORIZATION_TOP_MEMORIZED_H_

#include <torch/types.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/labeled_grid.h"
#include "memorization/memorization_ratio.h"

namespace diffmem {
namespace memorization {

// The order of the `top` samples with the smallest d1/d2 (ties: scoring order).
inline std::vector<int64_t> MostMemorized(const MemorizationReport& report, int64_t top) {
  std::vector<int64_t> order(report.samples.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return report.samples[a].ratio < report.samples[b].ratio; });
  order.resize(std::min<int64_t>(top, static_cast<int64_t>(order.size())));
  return order;
}

// The `top` samples with the smallest d1/d2 as C×H×(2W+1) tiles: sample, a
// gray separator column, nearest training image. `samples`/`train` are uint8
// N×C×H×W in the order `report` scored them.
inline torch::Tensor TopMemorizedPairs(const MemorizationReport& report, const torch::Tensor& samples,
                                       const torch::Tensor& train, int64_t top) {
  std::vector<torch::Tensor> tiles;
  for (int64_t i : MostMemorized(report, top)) {
    torch::Tensor bar = torch::full({samples.size(1), samples.size(2), 1}, 128, torch::kUInt8);
    tiles.push_back(torch::cat({samples[i], bar, train[report.samples[i].nearest]}, 2));
  }
  return torch::stack(tiles, 0);
}

// Writes TopMemorizedPairs as a 4-column grid PNG, each pair captioned
// "d1/d2 0.123" (atomically).
inline absl::Status WriteTopMemorized(const std::string& path, const MemorizationReport& report,
                                      const torch::Tensor& samples, const torch::Tensor& train, int64_t top) {
  if (report.samples.empty() || top < 1) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no scored samples to show"));
  }
  std::vector<std::string> captions;
  for (int64_t i : MostMemorized(report, top)) captions.push_back(absl::StrFormat("d1/d2 %.3f", report.samples[i].ratio));
  return data::WriteLabeledGrid(path, TopMemorizedPairs(report, samples, train, top), captions);
}

}  // namespace memorization
}  // namespace diffmem

#endif  // DIFFMEM_MEMORIZATION_TOP_MEMORIZED_H_
