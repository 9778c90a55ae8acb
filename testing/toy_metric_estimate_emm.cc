// //tools:estimate_emm with one metric more: the registry the tool is built
// from, extended by one line. The study's probes, final measurements and
// snapshot scoring then offer it; nothing else of the tool changes.

#include "memorization/distance.h"
#include "testing/toy_metric.h"
#include "tools/estimate_emm_main.h"
#include "util/type_registry.h"

int main(int argc, char** argv) {
  using Metrics = diffmem::Append<diffmem::memorization::DistanceMetrics, diffmem::testing::L3Distance>;
  return diffmem::tools::EstimateEmmMain<Metrics>(argc, argv);
}
