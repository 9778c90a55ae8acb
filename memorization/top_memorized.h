// The picture researchers look at first: the most memorized generated samples,
// each beside its nearest training image.
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
#include "data/image_grid.h"
#include "memorization/memorization_ratio.h"

namespace diffmem {
namespace memorization {

// The `top` samples with the smallest d1/d2 as C×H×(2W+1) tiles: sample, a
// gray separator column, nearest training image. `samples`/`train` are uint8
// N×C×H×W in the order `report` scored them.
inline torch::Tensor TopMemorizedPairs(const MemorizationReport& report, const torch::Tensor& samples,
                                       const torch::Tensor& train, int64_t top) {
  std::vector<int64_t> order(report.samples.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return report.samples[a].ratio < report.samples[b].ratio; });
  order.resize(std::min<int64_t>(top, static_cast<int64_t>(order.size())));
  std::vector<torch::Tensor> tiles;
  for (int64_t i : order) {
    torch::Tensor bar = torch::full({samples.size(1), samples.size(2), 1}, 128, torch::kUInt8);
    tiles.push_back(torch::cat({samples[i], bar, train[report.samples[i].nearest]}, 2));
  }
  return torch::stack(tiles, 0);
}

// Writes TopMemorizedPairs as a 4-column grid PNG (atomically).
inline absl::Status WriteTopMemorized(const std::string& path, const MemorizationReport& report,
                                      const torch::Tensor& samples, const torch::Tensor& train, int64_t top) {
  if (report.samples.empty() || top < 1) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no scored samples to show"));
  }
  data::GridOptions grid;
  grid.columns = 4;
  grid.padding = 4;
  return data::WriteImageGrid(path, TopMemorizedPairs(report, samples, train, top), grid);
}

}  // namespace memorization
}  // namespace diffmem

#endif  // DIFFMEM_MEMORIZATION_TOP_MEMORIZED_H_
