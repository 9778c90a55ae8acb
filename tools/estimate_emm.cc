// //tools:estimate_emm, the main job, with the built-in distance metrics
// (tools/estimate_emm_main.h; what it does: tools/estimate_emm_main.cc).

#include "memorization/distance.h"
#include "tools/estimate_emm_main.h"

int main(int argc, char** argv) {
  return diffmem::tools::EstimateEmmMain<diffmem::memorization::DistanceMetrics>(argc, argv);
}
