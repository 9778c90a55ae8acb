// The body of //tools:mem_ratio: the memorization ratio of generated images
// against a training set (paper, Sec. 3: a sample is memorized when
// d(x, NN1)/d(x, NN2) < 1/3, L2 in pixel space). Reads every PNG under
// --samples (a folder of samples or a sample run directory; the pictures this
// family of tools writes beside the samples, grid.png and top_memorized.png,
// are skipped), finds each sample's two nearest training images exactly, and
// writes
//   OUT/report.json        ratio, Wilson confidence interval, threshold, metric,
//                          and one row per sample (file, nearest, second, d1, d2, d1/d2, memorized)
//   OUT/top_memorized.png  the most memorized samples (smallest d1/d2), each
//                          beside its nearest training image (sample | nearest)
//
// The tool is a template over the registry of distance metrics it offers
// (memorization::DistanceMetrics), so adding a metric is one type plus one
// line in that list; testing/toy_metric_mem_ratio.cc runs this very code with
// a metric added in a test.
//
// Example (a tool's main):
//   int main(int argc, char** argv) {
//     return diffmem::tools::MemRatioMain<diffmem::memorization::DistanceMetrics>(argc, argv);
//   }

#ifndef DIFFMEM_TOOLS_MEM_RATIO_MAIN_H_
#define DIFFMEM_TOOLS_MEM_RATIO_MAIN_H_

#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "memorization/memorization_ratio.h"
#include "util/type_registry.h"

namespace diffmem {
namespace tools {

// The ratio of `samples` against `train` under the metric called `name`.
using MetricRatio = std::function<absl::StatusOr<memorization::MemorizationReport>(
    const std::string& name, const torch::Tensor& samples, const torch::Tensor& train,
    const memorization::MemorizationOptions& options)>;

// The tool, offering the metrics `metric_names`, which `ratio` computes.
int RunMemRatioTool(int argc, char** argv, const std::vector<std::string>& metric_names, const MetricRatio& ratio);

template <class Metrics>
int MemRatioMain(int argc, char** argv) {
  return RunMemRatioTool(argc, argv, RegistryNames<Metrics>(),
                         [](const std::string& name, const torch::Tensor& samples, const torch::Tensor& train,
                            const memorization::MemorizationOptions& options) {
                           return VisitByName<Metrics>(
                               name, "metric", [&](auto metric) -> absl::StatusOr<memorization::MemorizationReport> {
                                 using Metric = typename decltype(metric)::type;
                                 return memorization::MemorizationRatio<Metric>(samples, train, options);
                               });
                         });
}

}  // namespace tools
}  // namespace diffmem

#endif  // DIFFMEM_TOOLS_MEM_RATIO_MAIN_H_
