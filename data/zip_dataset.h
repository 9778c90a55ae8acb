// EDM-style data-set zips: PNG images plus an optional dataset.json (labels),
// the format written by EDM's / DiffMemorize's dataset_tool.py and read by
// their training code. Read one from a file or from memory; write one.
//
// Reading takes every *.png entry (any folder, sorted by name as EDM does) and
// decodes it with data::DecodePng; errors name "archive.zip:entry.png". All
// images must share one C×H×W.
//
// Writing lays images out as EDM does — image i is "%05d/img%08d.png" with the
// first five digits of the 8-digit index as the folder (00000/img00000000.png,
// 00001/img00001000.png, …) — stores them uncompressed (PNG is compressed
// already) with a fixed timestamp, so the same data set gives the same bytes,
// and replaces the target atomically: a failed write leaves no partial file.
//
// Example:
//   absl::Status s = diffmem::data::WriteEdmZip("/tmp/fm1k.zip", subset);
//   absl::StatusOr<diffmem::data::Dataset> back = diffmem::data::ReadZipDataset("/tmp/fm1k.zip");

#ifndef DIFFMEM_DATA_ZIP_DATASET_H_
#define DIFFMEM_DATA_ZIP_DATASET_H_

#include <ATen/Parallel.h>
#include <zip.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "data/dataset.h"
#include "data/dataset_json.h"
#include "data/png.h"
#include "data/png_folder.h"
#include "util/atomic_file.h"

namespace diffmem {
namespace data {

// Timestamp written on every entry (2020-01-01T00:00:00Z): reproducible bytes.
inline constexpr std::time_t kZipEntryTime = 1577836800;

// EDM's archive name of image `index`: "00012/img00012345.png".
inline std::string EdmImageName(int64_t index) {
  const std::string digits = absl::StrFormat("%08d", index);
  return absl::StrCat(digits.substr(0, 5), "/img", digits, ".png");
}

namespace internal_zip {

struct ZipDiscarder {
  void operator()(zip_t* z) const { zip_discard(z); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipDiscarder>;

inline std::string ErrorText(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string text = zip_error_strerror(&e);
  zip_error_fini(&e);
  return text;
}

inline std::string ErrorText(zip_error_t* e) { return zip_error_strerror(e); }

// How far an entry may inflate, decided from its first kPngHeaderBytes
// bytes (fewer if it is shorter); an error refuses the entry unread.
struct EntryBound {
  int64_t max_bytes = 0;
  std::string what;  // "a 28x28 PNG": what the bound is for, in errors
};
using EntryBoundFn = std::function<absl::StatusOr<EntryBound>(absl::string_view head)>;

// A PNG entry: its signature and IHDR, then at most MaxPngBytes.
inline EntryBoundFn PngEntryBound(const std::string& display) {
  return [display](absl::string_view head) -> absl::StatusOr<EntryBound> {
    absl::StatusOr<PngHeader> h = PeekPngHeader(head, display);
    if (!h.ok()) return h.status();
    return EntryBound{MaxPngBytes(*h), absl::StrCat("a ", h->width, "x", h->height, " PNG")};
  };
}

// dataset.json: a label line per image is ~30 bytes; allow 512, plus 1 MiB.
inline EntryBoundFn JsonEntryBound(int64_t images) {
  return [images](absl::string_view) -> absl::StatusOr<EntryBound> {
    return EntryBound{(int64_t{1} << 20) + 512 * images, absl::StrCat("the labels of ", images, " images")};
  };
}

// Reads entry `index` whole, within the bound its first bytes set; CRC and
// truncation errors surface here. An entry is never inflated past its bound,
// so a small archive cannot make the reader allocate gigabytes.
inline absl::StatusOr<std::string> ReadEntry(zip_t* za, zip_uint64_t index, const std::string& display,
                                             const EntryBoundFn& bound) {
  zip_file_t* f = zip_fopen_index(za, index, 0);
  if (f == nullptr) {
    return absl::DataLossError(absl::StrCat(display, ": cannot open entry: ", ErrorText(zip_get_error(za))));
  }
  auto fail = [&](absl::Status s) {
    zip_fclose(f);
    return s;
  };
  auto corrupt = [&] {
    return fail(absl::DataLossError(absl::StrCat(display, ": corrupt entry: ", ErrorText(zip_file_get_error(f)))));
  };
  std::string out;
  char buf[1 << 16];
  zip_int64_t n = 1;
  while (out.size() < kPngHeaderBytes && (n = zip_fread(f, buf, kPngHeaderBytes - out.size())) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  if (n < 0) return corrupt();
  absl::StatusOr<EntryBound> limit = bound(out);
  if (!limit.ok()) return fail(limit.status());
  while ((n = zip_fread(f, buf, sizeof(buf))) > 0) {
    out.append(buf, static_cast<size_t>(n));
    if (static_cast<int64_t>(out.size()) > limit->max_bytes) {
      return fail(absl::InvalidArgumentError(
          absl::StrCat(display, ": inflates to more than ", limit->max_bytes, " bytes, the most ", limit->what,
                       " can take; refusing it (a damaged or hostile archive?)")));
    }
  }
  if (n < 0) return corrupt();
  const int rc = zip_fclose(f);
  if (rc != 0) return absl::DataLossError(absl::StrCat(display, ": corrupt entry: ", ErrorText(rc)));
  return out;
}

inline absl::StatusOr<Dataset> ReadArchive(zip_t* za, const std::string& archive) {
  const zip_int64_t count = zip_get_num_entries(za, 0);
  std::vector<std::pair<std::string, zip_uint64_t>> pngs;
  zip_int64_t json_index = -1;
  for (zip_int64_t i = 0; i < count; ++i) {
    const char* raw = zip_get_name(za, static_cast<zip_uint64_t>(i), 0);
    if (raw == nullptr) {
      return absl::DataLossError(absl::StrCat(archive, ": entry ", i, ": ", ErrorText(zip_get_error(za))));
    }
    const std::string name = raw;
    if (name.empty() || name.back() == '/') continue;  // a folder entry
    if (name == kDatasetJsonName) {
      json_index = i;
    } else if (IsPngName(name)) {
      pngs.emplace_back(name, static_cast<zip_uint64_t>(i));
    } else if (internal_png_folder::IsOtherImageFormat(name) && !internal_png_folder::IsMacMetadata(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(archive, ":", name, ": only PNG images are read; convert or remove this entry"));
    }
  }
  std::sort(pngs.begin(), pngs.end());
  const std::string prefix = absl::StrCat(archive, ":");
  std::vector<std::string> names(pngs.size()), bytes(pngs.size());
  for (size_t i = 0; i < pngs.size(); ++i) {
    names[i] = pngs[i].first;
    const std::string display = prefix + names[i];
    absl::StatusOr<std::string> b = ReadEntry(za, pngs[i].second, display, PngEntryBound(display));
    if (!b.ok()) return b.status();
    bytes[i] = *std::move(b);
  }
  absl::StatusOr<std::vector<torch::Tensor>> images = DecodePngSet(names, bytes, prefix);
  if (!images.ok()) return images.status();
  if (json_index < 0) return AssembleDataset(names, *images, nullptr, prefix, archive);
  absl::StatusOr<std::string> text =
      ReadEntry(za, static_cast<zip_uint64_t>(json_index), prefix + kDatasetJsonName,
                JsonEntryBound(static_cast<int64_t>(pngs.size())));
  if (!text.ok()) return text.status();
  absl::StatusOr<DatasetJson> meta = ParseDatasetJson(*text, prefix + kDatasetJsonName);
  if (!meta.ok()) return meta.status();
  return AssembleDataset(names, *images, &*meta, prefix, archive);
}

}  // namespace internal_zip

// Reads an EDM-style zip from disk.
inline absl::StatusOr<Dataset> ReadZipDataset(const std::string& path) {
  int code = 0;
  internal_zip::ZipPtr za(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (!za) {
    const std::string msg = absl::StrCat(path, ": cannot open zip: ", internal_zip::ErrorText(code));
    return code == ZIP_ER_NOENT || code == ZIP_ER_OPEN ? absl::NotFoundError(msg) : absl::InvalidArgumentError(msg);
  }
  return internal_zip::ReadArchive(za.get(), path);
}

// Reads an EDM-style zip held in memory; `name` stands for it in errors.
inline absl::StatusOr<Dataset> ReadZipDatasetFromMemory(absl::string_view bytes, const std::string& name) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
  if (src == nullptr) {
    const std::string why = internal_zip::ErrorText(&err);
    zip_error_fini(&err);
    return absl::InternalError(absl::StrCat(name, ": ", why));
  }
  internal_zip::ZipPtr za(zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err));
  if (!za) {
    zip_source_free(src);
    const std::string why = internal_zip::ErrorText(&err);
    zip_error_fini(&err);
    return absl::InvalidArgumentError(absl::StrCat(name, ": cannot open zip: ", why));
  }
  zip_error_fini(&err);
  return internal_zip::ReadArchive(za.get(), name);
}

// Encodes `ds` as the bytes of an EDM-style zip (images + dataset.json).
// Progress of a long write: images done, images in all.
using ZipProgress = std::function<void(int64_t done, int64_t total)>;

inline absl::StatusOr<std::string> EncodeEdmZip(const Dataset& ds, const ZipProgress& progress = nullptr) {
  if (absl::Status s = ValidateDataset(ds); !s.ok()) return s;
  if (ds.size() == 0) return absl::InvalidArgumentError(absl::StrCat(ds.source, ": no images to write"));
  if (ds.channels() != 1 && ds.channels() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat(ds.source, ": PNG data sets need 1 or 3 channels, got ", ds.channels()));
  }
  const int64_t n = ds.size();
  std::vector<std::string> names(n);
  for (int64_t i = 0; i < n; ++i) names[i] = EdmImageName(i);
  std::vector<absl::StatusOr<std::string>> encoded(n, absl::UnknownError("not encoded"));
  torch::Tensor images = ds.images.contiguous();
  // Blocks of 1000 images, each encoded in parallel, with progress between them.
  for (int64_t first = 0; first < n; first += 1000) {
    at::parallel_for(first, std::min(n, first + 1000), 64, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) encoded[i] = EncodePng(images[i], names[i]);
    });
    if (progress) progress(std::min(n, first + 1000), n);
  }
  std::vector<std::string> pngs(n);
  for (int64_t i = 0; i < n; ++i) {
    if (!encoded[i].ok()) return encoded[i].status();
    pngs[i] = *std::move(encoded[i]);
  }
  const std::string json = EncodeDatasetJson(names, ds);

  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &err);
  if (buffer == nullptr) {
    const std::string why = internal_zip::ErrorText(&err);
    zip_error_fini(&err);
    return absl::InternalError(absl::StrCat("zip: ", why));
  }
  zip_source_keep(buffer);  // outlives zip_close, which writes into it
  zip_t* za = zip_open_from_source(buffer, ZIP_TRUNCATE, &err);
  if (za == nullptr) {
    const std::string why = internal_zip::ErrorText(&err);
    zip_error_fini(&err);
    zip_source_free(buffer);
    zip_source_free(buffer);
    return absl::InternalError(absl::StrCat("zip: ", why));
  }
  zip_error_fini(&err);
  auto fail = [&](const std::string& what) {
    const std::string why = internal_zip::ErrorText(zip_get_error(za));
    zip_discard(za);
    zip_source_free(buffer);
    return absl::InternalError(absl::StrCat("zip: ", what, ": ", why));
  };
  auto add = [&](const std::string& name, const std::string& data) -> bool {
    zip_source_t* s = zip_source_buffer(za, data.data(), data.size(), 0);
    if (s == nullptr) return false;
    const zip_int64_t idx = zip_file_add(za, name.c_str(), s, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
      zip_source_free(s);
      return false;
    }
    return zip_set_file_compression(za, idx, ZIP_CM_STORE, 0) == 0 &&
           zip_file_set_mtime(za, idx, kZipEntryTime, 0) == 0;
  };
  for (int64_t i = 0; i < n; ++i) {
    if (!add(names[i], pngs[i])) return fail(absl::StrCat("adding ", names[i]));
  }
  if (!add(kDatasetJsonName, json)) return fail("adding dataset.json");
  if (zip_close(za) != 0) return fail("finishing the archive");

  zip_stat_t st;
  zip_stat_init(&st);
  std::string out;
  if (zip_source_stat(buffer, &st) != 0 || zip_source_open(buffer) != 0) {
    zip_source_free(buffer);
    return absl::InternalError("zip: cannot read back the archive");
  }
  out.resize(st.size);
  const zip_int64_t got = zip_source_read(buffer, out.data(), st.size);
  zip_source_close(buffer);
  zip_source_free(buffer);
  if (got != static_cast<zip_int64_t>(st.size)) return absl::InternalError("zip: short read of the archive");
  return out;
}

// Writes `ds` to `path` as an EDM-style zip, atomically (temp file + rename).
inline absl::Status WriteEdmZip(const std::string& path, const Dataset& ds, const ZipProgress& progress = nullptr) {
  absl::StatusOr<std::string> bytes = EncodeEdmZip(ds, progress);
  if (!bytes.ok()) return absl::Status(bytes.status().code(), absl::StrCat(path, ": ", bytes.status().message()));
  return util::WriteFileAtomically(path, *bytes);
}

}  // namespace data
}  // namespace diffmem

#endif  // DIFFMEM_DATA_ZIP_DATASET_H_
