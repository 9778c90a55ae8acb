// Fuzz target: PNG decoding (data::DecodePng) and, when it succeeds, re-encoding.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "data/png.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<torch::Tensor> img = diffmem::data::DecodePng(bytes, "fuzz.png");
  if (img.ok()) {
    // A decoded image must re-encode and decode to itself.
    absl::StatusOr<std::string> again = diffmem::data::EncodePng(*img);
    if (!again.ok()) std::abort();
    absl::StatusOr<torch::Tensor> back = diffmem::data::DecodePng(*again, "re-encoded");
    if (!back.ok() || !back->equal(*img)) std::abort();
  }
  return 0;
}
