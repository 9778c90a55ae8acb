// Fuzz target: CIFAR-10 binary batches.
#include <cstdint>
#include <cstdlib>

#include "data/cifar10.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<diffmem::data::Dataset> ds = diffmem::data::DecodeCifar10Batch(bytes, "fuzz.bin");
  if (ds.ok() && !diffmem::data::ValidateDataset(*ds).ok()) std::abort();
  return 0;
}
