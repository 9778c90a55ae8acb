// Fuzz target: the run configuration a checkpoint carries (network and training
// options, the data block as JSON), a finished EMM run's record and a study's
// study.json — what resume, sample, --run_n and --collect parse from disk.
#include <cstdint>
#include <cstdlib>

#include "data/data_factors.h"
#include "networks/network.h"
#include "study/run_record.h"
#include "study/study_config.h"
#include "training/train_options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  absl::StatusOr<diffmem::networks::NetworkConfig> net = diffmem::networks::NetworkConfigFromJson(j);
  if (net.ok()) {
    // What was accepted must survive a round trip.
    absl::StatusOr<diffmem::networks::NetworkConfig> again =
        diffmem::networks::NetworkConfigFromJson(diffmem::networks::NetworkConfigToJson(*net));
    if (!again.ok()) std::abort();
  }
  (void)diffmem::training::TrainOptionsFromJson(j);
  (void)diffmem::study::EmmRunRecordFromJson(j, "fuzz/emm_result.json");
  (void)diffmem::data::DataSourceFromJson(j, "fuzz/config.json: data");
  absl::StatusOr<diffmem::study::EmmStudyConfig> study = diffmem::study::EmmStudyConfigFromJson(j, "fuzz/study.json");
  if (study.ok()) {
    absl::StatusOr<diffmem::study::EmmStudyConfig> again = diffmem::study::EmmStudyConfigFromJson(
        diffmem::study::EmmStudyConfigToJson(*study), "fuzz/study.json");
    if (!again.ok()) std::abort();
  }
  return 0;
}
