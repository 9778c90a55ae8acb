// A folder of PNG images (searched recursively, as EDM's dataset tool does),
// with optional labels in `dataset.json` at its root (see data/dataset_json.h).
//
// Images are ordered by their relative path ('/'-separated, byte order — the
// order EDM's loader uses), so index i means the same image here and there.
// Every image must share one C×H×W. Other image formats (JPEG, …) are refused
// rather than skipped, so the image count never differs silently from EDM's;
// macOS metadata files ("._x.png", "__MACOSX/") are skipped.
//
// Example:
//   absl::StatusOr<diffmem::data::Dataset> ds = diffmem::data::ReadPngFolder("/data/cifar10-png");
//   if (!ds.ok()) return ds.status();  // ".../00001/img00001003.png: image shape 1x32x32 (C×H×W), expected 3x32x32 ..."

#ifndef DIFFMEM_DATA_PNG_FOLDER_H_
#define DIFFMEM_DATA_PNG_FOLDER_H_

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "data/dataset.h"
#include "data/dataset_json.h"
#include "util/atomic_file.h"

namespace diffmem {
namespace data {

namespace internal_png_folder {

// Lower-case extension including the dot ("" when none).
inline std::string LowerExtension(const std::string& name) {
  const size_t slash = name.find_last_of('/');
  const size_t dot = name.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  return absl::AsciiStrToLower(name.substr(dot));
}

// Image files diffmem does not decode; refusing them keeps counts honest.
inline bool IsOtherImageFormat(const std::string& name) {
  const std::string ext = LowerExtension(name);
  for (const char* e : {".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}) {
    if (ext == e) return true;
  }
  return false;
}

// macOS metadata that archivers add beside images ("__MACOSX/…", "._name.png"):
// not images, so not part of the data set.
inline bool IsMacMetadata(const std::string& name) {
  const size_t slash = name.find_last_of('/');
  const std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
  return absl::StartsWith(name, "__MACOSX/") || absl::StartsWith(base, "._");
}

}  // namespace internal_png_folder

// True for image names ending in .png (any case), other than macOS metadata.
inline bool IsPngName(const std::string& name) {
  return internal_png_folder::LowerExtension(name) == ".png" && !internal_png_folder::IsMacMetadata(name);
}

namespace internal_png_folder {

inline std::string StripTrailingSlashes(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace internal_png_folder

// Relative paths ('/'-separated, sorted) of the PNG files under `dir`.
// Symbolic links to files count as files; linked folders are not entered.
inline absl::StatusOr<std::vector<std::string>> ListPngFiles(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path root = internal_png_folder::StripTrailingSlashes(dir);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return absl::NotFoundError(absl::StrCat(dir, ": not a directory"));
  std::vector<std::string> names;
  fs::recursive_directory_iterator it(root, ec), end;
  if (ec) return absl::UnavailableError(absl::StrCat(dir, ": cannot list: ", ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) return absl::UnavailableError(absl::StrCat(dir, ": cannot list: ", ec.message()));
    if (!it->is_regular_file(ec)) continue;
    // Lexical, so a linked file keeps its own name rather than its target's.
    const std::string rel = it->path().lexically_relative(root).generic_string();
    if (IsPngName(rel)) {
      names.push_back(rel);
    } else if (internal_png_folder::IsOtherImageFormat(rel) && !internal_png_folder::IsMacMetadata(rel)) {
      return absl::InvalidArgumentError(
          absl::StrCat(root.string(), "/", rel, ": only PNG images are read; convert or remove this file"));
    }
  }
  if (ec) return absl::UnavailableError(absl::StrCat(dir, ": cannot list: ", ec.message()));
  std::sort(names.begin(), names.end());
  return names;
}

// Reads every PNG under `dir` (recursively) plus `dir`/dataset.json if present.
inline absl::StatusOr<Dataset> ReadPngFolder(const std::string& dir) {
  const std::string root = internal_png_folder::StripTrailingSlashes(dir);
  absl::StatusOr<std::vector<std::string>> names = ListPngFiles(root);
  if (!names.ok()) return names.status();
  const std::string prefix = absl::StrCat(root, "/");
  std::vector<std::string> bytes(names->size());
  for (size_t i = 0; i < names->size(); ++i) {
    absl::StatusOr<std::string> b = util::ReadFileToString(prefix + (*names)[i]);
    if (!b.ok()) return b.status();
    bytes[i] = *std::move(b);
  }
  absl::StatusOr<std::vector<torch::Tensor>> images = DecodePngSet(*names, bytes, prefix);
  if (!images.ok()) return images.status();
  const std::string json_path = prefix + kDatasetJsonName;
  std::error_code ec;
  if (!std::filesystem::exists(json_path, ec)) return AssembleDataset(*names, *images, nullptr, prefix, root);
  absl::StatusOr<std::string> text = util::ReadFileToString(json_path);
  if (!text.ok()) return text.status();
  absl::StatusOr<DatasetJson> meta = ParseDatasetJson(*text, json_path);
  if (!meta.ok()) return meta.status();
  return AssembleDataset(*names, *images, &*meta, prefix, root);
}

}  // namespace data
}  // namespace diffmem

#endif  // DIFFMEM_DATA_PNG_FOLDER_H_
