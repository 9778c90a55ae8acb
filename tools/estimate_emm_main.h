// The body of //tools:estimate_emm (tools/estimate_emm_main.cc: flags,
// modes, the study): a template over the registry of distance metrics it
// offers, like tools/mem_ratio_main.h, so a metric added to the registry
// reaches the study's probes, final measurements and snapshot scoring;
// testing/toy_metric_estimate_emm.cc runs a study with a metric added in a test.
//
// Example (a tool's main):
//   int main(int argc, char** argv) {
//     return diffmem::tools::EstimateEmmMain<diffmem::memorization::DistanceMetrics>(argc, argv);
//   }

#ifndef DIFFMEM_TOOLS_ESTIMATE_EMM_MAIN_H_
#define DIFFMEM_TOOLS_ESTIMATE_EMM_MAIN_H_

#include "memorization/metric_registry.h"

namespace diffmem {
namespace tools {

// The tool, offering the metrics of `metrics` (--metric).
int RunEstimateEmmTool(int argc, char** argv, const memorization::MetricRegistry& metrics);

template <class Metrics>
int EstimateEmmMain(int argc, char** argv) {
  return RunEstimateEmmTool(argc, argv, memorization::MetricRegistryOf<Metrics>());
}

}  // namespace tools
}  // namespace diffmem

#endif  // DIFFMEM_TOOLS_ESTIMATE_EMM_MAIN_H_
