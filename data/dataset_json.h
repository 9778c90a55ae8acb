// The `dataset.json` that EDM / DiffMemorize data sets keep beside their PNGs,
// and the step shared by the PNG-folder and zip readers: decoded images plus
// that file's labels → one Dataset.
//
// Format: {"labels": [["00000/img00000000.png", 6], ...]} or {"labels": null}.
// Names are paths relative to the data-set root with '/' separators. diffmem
// also writes "num_classes": C (EDM's loader ignores unknown keys), so a label
// scheme whose largest drawn label is below C − 1 survives a round trip; when
// it is absent, num_classes = max(label) + 1.
//
// Example:
//   absl::StatusOr<DatasetJson> meta = ParseDatasetJson(text, "cifar.zip:dataset.json");
//   absl::StatusOr<std::vector<torch::Tensor>> images = DecodePngSet(names, bytes, "cifar.zip:");
//   absl::StatusOr<Dataset> ds = AssembleDataset(names, *images, &*meta, "cifar.zip:", "cifar.zip");

#ifndef DIFFMEM_DATA_DATASET_JSON_H_
#define DIFFMEM_DATA_DATASET_JSON_H_

#include <torch/types.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "data/dataset.h"
#include "data/png.h"

namespace diffmem {
namespace data {

// The most classes a data set may have: labels at or above it (and a larger
// "num_classes") are refused as a corrupt file, not a class id. 2^20 holds a
// unique label per image for every data set in the paper (CIFAR-10's 50,000)
// and keeps a class embedding of a network within memory; a label of 2^31 − 1
// would ask for a table of 2^31 rows.
inline constexpr int64_t kMaxClasses = int64_t{1} << 20;

inline constexpr char kDatasetJsonName[] = "dataset.json";

struct DatasetJson {
  bool has_labels = false;                               // false for "labels": null
  std::vector<std::pair<std::string, int64_t>> labels;   // file order
  int64_t num_classes = 0;                               // 0 when the file does not say
};

// Parses and checks the file; `name` (e.g. "x.zip:dataset.json") prefixes errors.
inline absl::StatusOr<DatasetJson> ParseDatasetJson(absl::string_view text, absl::string_view name) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": malformed JSON: ", e.what()));
  }
  if (!doc.is_object() || !doc.contains("labels")) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": expected an object with a \"labels\" key"));
  }
  DatasetJson out;
  if (doc.contains("num_classes")) {
    const nlohmann::json& c = doc["num_classes"];
    if (!c.is_number_integer() || c.get<int64_t>() < 1 || c.get<int64_t>() > kMaxClasses) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": \"num_classes\" must be an integer in [1, ",
                                                     kMaxClasses, "], got ", c.dump()));
    }
    out.num_classes = c.get<int64_t>();
  }
  const nlohmann::json& labels = doc["labels"];
  if (labels.is_null()) return out;
  if (!labels.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": \"labels\" must be a list or null"));
  }
  out.has_labels = true;
  out.labels.reserve(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    const nlohmann::json& e = labels[i];
    if (!e.is_array() || e.size() != 2 || !e[0].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": labels[", i, "] must be [\"path.png\", label], got ", e.dump()));
    }
    const std::string file = e[0].get<std::string>();
    if (!e[1].is_number_integer() || e[1].get<int64_t>() < 0 || e[1].get<int64_t>() >= kMaxClasses) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": label of \"", file, "\" (labels[", i, "]) out of range: ",
                                                     e[1].dump(), " (need an integer in [0, ", kMaxClasses,
                                                     "), the most classes diffmem reads)"));
    }
    const int64_t label = e[1].get<int64_t>();
    if (out.num_classes > 0 && label >= out.num_classes) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": label of \"", file, "\" out of range: ", label,
                                                     " >= num_classes ", out.num_classes));
    }
    out.labels.emplace_back(file, label);
  }
  return out;
}

// Serializes labels for `names` (the archive names of ds's images, in order).
inline std::string EncodeDatasetJson(const std::vector<std::string>& names, const Dataset& ds) {
  nlohmann::json doc;
  if (ds.has_labels()) {
    nlohmann::json list = nlohmann::json::array();
    torch::Tensor labels = ds.labels.contiguous();
    const int64_t* l = labels.data_ptr<int64_t>();
    for (size_t i = 0; i < names.size(); ++i) list.push_back({names[i], l[i]});
    doc["labels"] = std::move(list);
    doc["num_classes"] = ds.num_classes;
  } else {
    doc["labels"] = nullptr;
  }
  return doc.dump();
}

// Decodes PNG files (bytes[i] holds file names[i]) on the tensor thread pool.
// Errors name `prefix` + the file, e.g. "cifar.zip:00000/img00000003.png".
inline absl::StatusOr<std::vector<torch::Tensor>> DecodePngSet(const std::vector<std::string>& names,
                                                               const std::vector<std::string>& bytes,
                                                               const std::string& prefix) {
  std::vector<absl::StatusOr<torch::Tensor>> decoded(bytes.size(), absl::UnknownError("not decoded"));
  at::parallel_for(0, static_cast<int64_t>(bytes.size()), 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) decoded[i] = DecodePng(bytes[i], absl::StrCat(prefix, names[i]));
  });
  std::vector<torch::Tensor> out;
  out.reserve(decoded.size());
  for (auto& d : decoded) {
    if (!d.ok()) return d.status();
    out.push_back(*std::move(d));
  }
  return out;
}

// Stacks decoded images (named `names`, same order) into a Dataset and attaches
// the labels from `meta` (nullptr: no dataset.json). Every image must share the
// first image's C×H×W, every image needs a label when labels are given, and
// every labelled name must be an image of the set. `prefix` + name is how
// errors show a file ("dir/" or "archive.zip:"); `source` names the data set.
inline absl::StatusOr<Dataset> AssembleDataset(const std::vector<std::string>& names,
                                               const std::vector<torch::Tensor>& images, const DatasetJson* meta,
                                               const std::string& prefix, const std::string& source) {
  if (images.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": no PNG images found"));
  const auto shape = images[0].sizes();
  for (size_t i = 1; i < images.size(); ++i) {
    if (images[i].sizes() != shape) {
      return absl::InvalidArgumentError(absl::StrCat(prefix, names[i], ": image shape ",
                                                     absl::StrJoin(images[i].sizes(), "x"), " (C×H×W), expected ",
                                                     absl::StrJoin(shape, "x"), " like ", names[0]));
    }
  }
  Dataset ds;
  ds.source = source;
  ds.images = torch::stack(images);
  if (meta == nullptr || !meta->has_labels) return ds;
  const std::string json_name = absl::StrCat(prefix, kDatasetJsonName);
  std::map<std::string, int64_t> by_name;
  for (const auto& [file, label] : meta->labels) {
    if (!by_name.emplace(file, label).second) {
      return absl::InvalidArgumentError(absl::StrCat(json_name, ": \"", file, "\" listed twice"));
    }
  }
  ds.labels = torch::empty({static_cast<int64_t>(names.size())}, torch::kInt64);
  int64_t* l = ds.labels.data_ptr<int64_t>();
  int64_t max_label = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    auto it = by_name.find(names[i]);
    if (it == by_name.end()) {
      return absl::InvalidArgumentError(absl::StrCat(json_name, ": no label for image \"", names[i], "\""));
    }
    l[i] = it->second;
    max_label = std::max(max_label, it->second);
    by_name.erase(it);
  }
  if (!by_name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(json_name, ": names missing file \"", by_name.begin()->first,
                                                   "\" (not a PNG image of the data set)"));
  }
  ds.num_classes = meta->num_classes > 0 ? meta->num_classes : max_label + 1;
  return ds;
}

}  // namespace data
}  // namespace diffmem

#endif  // DIFFMEM_DATA_DATASET_JSON_H_
