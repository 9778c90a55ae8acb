// Fuzz target: the run configuration a checkpoint carries (network and training
// options as JSON), and a finished EMM run's record — what resume, sample and
// collect parse from disk.
#include <cstdint>
#include <cstdlib>

#include "diffusion/network.h"
#include "diffusion/train_options.h"
#include "memorization/emm_report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  absl::StatusOr<diffmem::diffusion::NetworkConfig> net = diffmem::diffusion::NetworkConfigFromJson(j);
  if (net.ok()) {
    // What was accepted must survive a round trip.
    absl::StatusOr<diffmem::diffusion::NetworkConfig> again =
        diffmem::diffusion::NetworkConfigFromJson(diffmem::diffusion::NetworkConfigToJson(*net));
    if (!again.ok()) std::abort();
  }
  (void)diffmem::diffusion::TrainOptionsFromJson(j);
  (void)diffmem::memorization::EmmRunRecordFromJson(j, "fuzz/emm_result.json");
  return 0;
}
