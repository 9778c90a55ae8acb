// Fuzz target: IDX parsing, plain and gzip (data::ParseIdx).
#include <cstdint>
#include <cstdlib>

#include "data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<diffmem::data::IdxArray> a = diffmem::data::ParseIdx(bytes, "fuzz.idx");
  if (a.ok()) {
    int64_t n = 1;
    for (int64_t d : a->dims) n *= d;
    if (a->data.numel() != n) std::abort();
  }
  return 0;
}
