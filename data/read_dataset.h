// One entry point for every data-set format, chosen from a spec string — what
// every diffmem tool takes as --data=SPEC.
//
//   fashion-mnist[:train|:t10k]   Debian's Fashion-MNIST (default: train, 60k)
//   cifar10:DIR[:train|:test]     CIFAR-10 binary batches in DIR (default: train)
//   cifar10:FILE.bin              one CIFAR-10 batch file
//   idx:IMAGES[,LABELS]           IDX image file (gzip or plain), optional labels
//   zip:FILE                      EDM-style zip of PNGs (+ dataset.json)
//   png:DIR                       folder of PNGs (+ dataset.json)
// A spec without a known prefix is a path, recognised by what it is:
//   *.zip → zip; *.bin → CIFAR-10 batch; IMAGES,LABELS or a name containing
//   "idx" or ending in "-ubyte[.gz]" → IDX; a directory holding data_batch_1.bin
//   (or only test_batch.bin) → CIFAR-10 train (test); any other directory →
//   PNG folder.
//
// Example:
//   absl::StatusOr<diffmem::data::Dataset> ds = diffmem::data::ReadDataset("fashion-mnist:t10k");
//   auto cifar = diffmem::data::ReadDataset("/data/cifar-10-batches-bin");
//   auto subset = diffmem::data::ReadDataset("/tmp/fm1k.zip");

#ifndef DIFFMEM_DATA_READ_DATASET_H_
#define DIFFMEM_DATA_READ_DATASET_H_

#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "data/cifar10.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/png_folder.h"
#include "data/zip_dataset.h"

namespace diffmem {
namespace data {

// The spec grammar, for --help texts and error messages.
inline constexpr char kDatasetSpecHelp[] =
    "fashion-mnist[:train|:t10k], cifar10:DIR[:train|:test], cifar10:FILE.bin, idx:IMAGES[,LABELS], "
    "zip:FILE, png:DIR, or a path (*.zip, *.bin, IDX file, CIFAR-10 directory, PNG folder)";

namespace internal_read_dataset {

inline bool IsDirectory(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

inline bool IsFile(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

inline absl::StatusOr<Dataset> ReadIdxSpec(const std::string& rest) {
  std::pair<std::string, std::string> files = absl::StrSplit(rest, absl::MaxSplits(',', 1));
  if (files.first.empty()) return absl::InvalidArgumentError("idx: needs an image file (idx:IMAGES[,LABELS])");
  return ReadIdxDataset(files.first, files.second);
}

inline absl::StatusOr<Dataset> ReadCifarSpec(std::string rest) {
  std::string split = "train";
  for (const char* s : {"train", "test"}) {
    const std::string suffix = absl::StrCat(":", s);
    if (absl::EndsWith(rest, suffix)) {
      split = s;
      rest.resize(rest.size() - suffix.size());
    }
  }
  if (IsDirectory(rest)) return ReadCifar10(rest, split);
  return ReadCifar10Batch(rest);
}

inline bool LooksLikeIdx(const std::string& path) {
  const std::string name = absl::AsciiStrToLower(std::filesystem::path(path).filename().string());
  return absl::StrContains(name, "idx") || absl::EndsWith(name, "-ubyte") || absl::EndsWith(name, "-ubyte.gz");
}

}  // namespace internal_read_dataset

// Reads the data set that `spec` names (grammar above).
inline absl::StatusOr<Dataset> ReadDataset(const std::string& spec) {
  namespace in = internal_read_dataset;
  if (spec.empty()) return absl::InvalidArgumentError(absl::StrCat("empty data-set spec; expected ", kDatasetSpecHelp));
  if (spec == "fashion-mnist") return ReadFashionMnist("train");
  if (absl::StartsWith(spec, "fashion-mnist:")) {
    std::string split = spec.substr(14);
    if (split == "test") split = "t10k";
    return ReadFashionMnist(split);
  }
  if (spec == "cifar10") {
    return absl::InvalidArgumentError("cifar10 needs a location: cifar10:DIR (the cifar-10-batches-bin folder)");
  }
  if (absl::StartsWith(spec, "cifar10:")) return in::ReadCifarSpec(spec.substr(8));
  if (absl::StartsWith(spec, "idx:")) return in::ReadIdxSpec(spec.substr(4));
  if (absl::StartsWith(spec, "zip:")) return ReadZipDataset(spec.substr(4));
  if (absl::StartsWith(spec, "png:")) return ReadPngFolder(spec.substr(4));

  if (in::IsDirectory(spec)) {
    if (in::IsFile(spec + "/data_batch_1.bin")) return ReadCifar10(spec, "train");
    if (in::IsFile(spec + "/test_batch.bin")) return ReadCifar10(spec, "test");
    return ReadPngFolder(spec);
  }
  const std::string lower = absl::AsciiStrToLower(spec);
  if (absl::EndsWith(lower, ".zip")) return ReadZipDataset(spec);
  if (absl::EndsWith(lower, ".bin")) return ReadCifar10Batch(spec);
  if (absl::StrContains(spec, ',') || in::LooksLikeIdx(spec)) return in::ReadIdxSpec(spec);
  if (!in::IsFile(spec)) {
    return absl::NotFoundError(absl::StrCat(spec, ": no such file or directory, and not a data-set name; expected ",
                                            kDatasetSpecHelp));
  }
  return absl::InvalidArgumentError(absl::StrCat(spec, ": cannot tell the format from the name; expected ",
                                                 kDatasetSpecHelp));
}

}  // namespace data
}  // namespace diffmem

#endif  // DIFFMEM_DATA_READ_DATASET_H_
