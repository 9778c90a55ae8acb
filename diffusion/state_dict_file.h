// State-dict files that Python reads and writes: a dict from names to
// tensors in the zip format of Python's torch.save (PyTorch >= 1.6), so that
// `torch.load(path)` returns the dict and diffmem reads what
// `torch.save(dict(net.state_dict()), path)` wrote. LibTorch's own pickler
// does the work (torch::pickle_load / torch::pickle_save).
//
//   StateDict                   names and CPU tensors, in file order
//   ReadStateDictFile(path)     errors name the file and say what is wrong
//   WriteStateDictFile(path, d) atomic (temp file + rename)
//
// LibTorch 1.13's unpickler reads plain dicts only: it turns a
// collections.OrderedDict, which is what Module.state_dict() returns, into
// None. Such a file fails with a message saying how to re-save it.
//
// Example:
//   using namespace diffmem::diffusion;
//   absl::StatusOr<StateDict> sd = ReadStateDictFile("ema.pt");
//   const torch::Tensor* w = FindTensor(*sd, "model.map_layer0.weight");
//   absl::Status s = WriteStateDictFile("net.pt", *sd);   // Python: torch.load("net.pt")

#ifndef DIFFMEM_DIFFUSION_STATE_DICT_FILE_H_
#define DIFFMEM_DIFFUSION_STATE_DICT_FILE_H_

#include <sys/types.h>  // off_t, which in_memory_adapter.h uses without including it

#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/serialize.h>
#include <torch/types.h>

#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "data/atomic_file.h"

namespace diffmem {
namespace diffusion {

using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

// The tensor called `name`, or null.
inline const torch::Tensor* FindTensor(const StateDict& sd, const std::string& name) {
  for (const auto& [key, tensor] : sd) {
    if (key == name) return &tensor;
  }
  return nullptr;
}

namespace internal_state_dict_file {

inline std::string FirstLine(const c10::Error& e) {
  std::string s = e.what_without_backtrace();
  const size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// Whether the archive's pickle starts with collections.OrderedDict (protocol
// 2, what torch.save writes: PROTO 2, then GLOBAL "collections\nOrderedDict\n").
inline bool TopLevelIsOrderedDict(const std::vector<char>& bytes) {
  try {
    caffe2::serialize::PyTorchStreamReader reader(
        std::make_shared<caffe2::serialize::MemoryReadAdapter>(bytes.data(), static_cast<off_t>(bytes.size())));
    if (!reader.hasRecord("data.pkl")) return false;
    auto [data, size] = reader.getRecord("data.pkl");
    static constexpr char kPrefix[] =
        "\x80\x02"
        "ccollections\nOrderedDict\n";
    return size >= sizeof(kPrefix) - 1 && std::memcmp(data.get(), kPrefix, sizeof(kPrefix) - 1) == 0;
  } catch (const c10::Error&) {
    return false;
  }
}

}  // namespace internal_state_dict_file

// Reads a dict of tensors written by Python's torch.save (or by
// WriteStateDictFile). Tensors are returned as stored (dtype, shape), on the CPU.
inline absl::StatusOr<StateDict> ReadStateDictFile(const std::string& path) {
  absl::StatusOr<std::string> bytes = data::ReadFileToString(path);
  if (!bytes.ok()) return bytes.status();
  std::vector<char> data(bytes->begin(), bytes->end());
  constexpr char kResave[] = "in Python, save the state dict as a plain dict: torch.save(dict(net.state_dict()), PATH)";
  if (data.size() < 4 || std::memcmp(data.data(), "PK\x03\x04", 4) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": not a zip archive, so not a file written by torch.save of PyTorch >= 1.6 (older torch.save "
                     "formats and pickles of whole networks cannot be read: ",
                     kResave, ")"));
  }
  torch::IValue value;
  try {
    value = torch::pickle_load(data);
  } catch (const c10::Error& e) {
    if (internal_state_dict_file::TopLevelIsOrderedDict(data)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": holds a collections.OrderedDict (a state_dict() saved as is), which LibTorch cannot read; ",
          kResave));
    }
    return absl::InvalidArgumentError(absl::StrCat(path,
                                                   ": not a readable torch.save archive (truncated or "
                                                   "damaged?): ",
                                                   internal_state_dict_file::FirstLine(e)));
  }
  if (!value.isGenericDict()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": holds a ", value.tagKind(), ", expected a dict from names to tensors; ", kResave));
  }
  StateDict out;
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": a key of the dict is a ", item.key().tagKind(), ", expected tensor names (strings)"));
    }
    const std::string& name = item.key().toStringRef();
    if (!item.value().isTensor()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": '", name, "' is a ", item.value().tagKind(), ", expected a tensor"));
    }
    out.emplace_back(name, item.value().toTensor().cpu());
  }
  return out;
}

// Writes `sd` so that Python's torch.load returns a dict of CPU tensors.
inline absl::Status WriteStateDictFile(const std::string& path, const StateDict& sd) {
  std::vector<char> bytes;
  try {
    c10::Dict<std::string, torch::Tensor> dict;
    for (const auto& [name, tensor] : sd) {
      if (dict.contains(name)) return absl::InvalidArgumentError(absl::StrCat(path, ": duplicate tensor '", name, "'"));
      dict.insert(name, tensor.detach().cpu().contiguous());
    }
    bytes = torch::pickle_save(dict);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(path, ": cannot serialize the state dict: ", internal_state_dict_file::FirstLine(e)));
  }
  return data::WriteFileAtomically(path, absl::string_view(bytes.data(), bytes.size()));
}

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_STATE_DICT_FILE_H_
