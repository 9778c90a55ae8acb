// //tools:mem_ratio with one metric more: the registry the tool is built
// from, extended by one line. Nothing else of the tool changes.

#include "memorization/distance.h"
#include "testing/toy_metric.h"
#include "tools/mem_ratio_main.h"
#include "util/type_registry.h"

int main(int argc, char** argv) {
  using Metrics = diffmem::Append<diffmem::memorization::DistanceMetrics, diffmem::testing::L3Distance>;
  return diffmem::tools::MemRatioMain<Metrics>(argc, argv);
}
