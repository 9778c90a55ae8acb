// CIFAR-10 in its binary version (cifar-10-batches-bin/): each record is one
// label byte (0–9) then 3072 pixel bytes — the 32×32 red plane, then green,
// then blue, each row-major — so a record maps straight onto uint8 3×32×32.
// The training split is data_batch_1.bin … data_batch_5.bin (50k images, in
// that order), the test split test_batch.bin (10k).
//
// Example:
//   auto train = diffmem::data::ReadCifar10("/data/cifar-10-batches-bin");          // 50000×3×32×32
//   auto test = diffmem::data::ReadCifar10("/data/cifar-10-batches-bin", "test");   // 10000×3×32×32
//   auto one = diffmem::data::ReadCifar10Batch("/data/cifar-10-batches-bin/data_batch_3.bin");

#ifndef DIFFMEM_DATA_CIFAR10_H_
#define DIFFMEM_DATA_CIFAR10_H_

#include <torch/types.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "data/dataset.h"
#include "util/atomic_file.h"

namespace diffmem {
namespace data {

inline constexpr int64_t kCifar10Classes = 10;
inline constexpr int64_t kCifar10Side = 32;
inline constexpr int64_t kCifar10ImageBytes = 3 * kCifar10Side * kCifar10Side;  // 3072
inline constexpr int64_t kCifar10RecordBytes = 1 + kCifar10ImageBytes;           // 3073

// Decodes the bytes of one batch file; `name` prefixes errors.
inline absl::StatusOr<Dataset> DecodeCifar10Batch(absl::string_view bytes, const std::string& name) {
  if (bytes.empty() || bytes.size() % kCifar10RecordBytes != 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": size ", bytes.size(), " bytes is not a positive multiple of ",
                                                   kCifar10RecordBytes, " (1 label + 3072 pixels per record)"));
  }
  const int64_t n = static_cast<int64_t>(bytes.size()) / kCifar10RecordBytes;
  Dataset ds;
  ds.source = name;
  ds.num_classes = kCifar10Classes;
  ds.images = torch::empty({n, 3, kCifar10Side, kCifar10Side}, torch::kUInt8);
  ds.labels = torch::empty({n}, torch::kInt64);
  uint8_t* img = ds.images.data_ptr<uint8_t>();
  int64_t* lab = ds.labels.data_ptr<int64_t>();
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  for (int64_t i = 0; i < n; ++i, p += kCifar10RecordBytes) {
    if (p[0] >= kCifar10Classes) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": record ", i, " has label ", int{p[0]},
                                                     ", expected 0 to 9 (not a CIFAR-10 binary batch?)"));
    }
    lab[i] = p[0];
    std::memcpy(img + i * kCifar10ImageBytes, p + 1, kCifar10ImageBytes);
  }
  return ds;
}

// Reads one batch file (e.g. data_batch_1.bin).
inline absl::StatusOr<Dataset> ReadCifar10Batch(const std::string& path) {
  absl::StatusOr<std::string> bytes = util::ReadFileToString(path);
  if (!bytes.ok()) return bytes.status();
  return DecodeCifar10Batch(*bytes, path);
}

// The batch files of a split: "train" (data_batch_1..5.bin) or "test" (test_batch.bin).
inline absl::StatusOr<std::vector<std::string>> Cifar10BatchNames(const std::string& split) {
  if (split == "train") {
    return std::vector<std::string>{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                                    "data_batch_5.bin"};
  }
  if (split == "test") return std::vector<std::string>{"test_batch.bin"};
  return absl::InvalidArgumentError(absl::StrCat("CIFAR-10 split '", split, "': expected train or test"));
}

// Reads a split from the directory holding the batch files; every file of the
// split must be there.
inline absl::StatusOr<Dataset> ReadCifar10(const std::string& dir, const std::string& split = "train") {
  absl::StatusOr<std::vector<std::string>> files = Cifar10BatchNames(split);
  if (!files.ok()) return files.status();
  std::vector<torch::Tensor> images, labels;
  for (const std::string& f : *files) {
    absl::StatusOr<Dataset> batch = ReadCifar10Batch(absl::StrCat(dir, "/", f));
    if (!batch.ok()) return batch.status();
    images.push_back(batch->images);
    labels.push_back(batch->labels);
  }
  Dataset ds;
  ds.source = absl::StrCat(dir, " (CIFAR-10 ", split, ")");
  ds.num_classes = kCifar10Classes;
  ds.images = images.size() == 1 ? images[0] : torch::cat(images);
  ds.labels = labels.size() == 1 ? labels[0] : torch::cat(labels);
  return ds;
}

}  // namespace data
}  // namespace diffmem

#endif  // DIFFMEM_DATA_CIFAR10_H_
