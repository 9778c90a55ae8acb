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
// line in that list, and the metric reaches both --samples and --run (the
// snapshot series); testing/toy_metric_mem_ratio.cc runs this very code with
// a metric added in a test.
//
// Example (a tool's main):
//   int main(int argc, char** argv) {
//     return diffmem::tools::MemRatioMain<diffmem::memorization::DistanceMetrics>(argc, argv);
//   }

#ifndef DIFFMEM_TOOLS_MEM_RATIO_MAIN_H_
#define DIFFMEM_TOOLS_MEM_RATIO_MAIN_H_

#include <torch/types.h>

#include "memorization/metric_registry.h"

namespace diffmem {
namespace tools {

// The tool, offering the metrics of `metrics` (--metric; also --run's snapshot scoring).
int RunMemRatioTool(int argc, char** argv, const memorization::MetricRegistry& metrics);

template <class Metrics>
int MemRatioMain(int argc, char** argv) {
  return RunMemRatioTool(argc, argv, memorization::MetricRegistryOf<Metrics>());
}

}  // namespace tools
}  // namespace diffmem

#endif  // DIFFMEM_TOOLS_MEM_RATIO_MAIN_H_
