// Fuzz target: EDM-style dataset zips (libzip + dataset.json + PNG entries).
#include <cstdint>
#include <cstdlib>

#include "data/zip_dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<diffmem::data::Dataset> ds = diffmem::data::ReadZipDatasetFromMemory(bytes, "fuzz.zip");
  if (ds.ok() && !diffmem::data::ValidateDataset(*ds).ok()) std::abort();  // a reader must not return invalid data
  return 0;
}
