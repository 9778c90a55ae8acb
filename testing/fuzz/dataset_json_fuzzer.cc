// Fuzz target: dataset.json label files (nlohmann-json).
#include <cstdint>

#include "data/dataset_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)diffmem::data::ParseDatasetJson(text, "fuzz/dataset.json");
  return 0;
}
