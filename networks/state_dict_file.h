// State-dict files that Python reads and writes: a dict from names to
// tensors in the zip format of Python's torch.save (PyTorch >= 1.6), so that
// `torch.load(path)` returns the dict and diffmem reads what
// `torch.save(dict(net.state_dict()), path)` wrote. LibTorch's own pickler
// does the work (torch::pickle_load to read; to write, its Pickler without
// the TorchScript type tags that torch::pickle_save adds: PyTorch >= 2.6's
// torch.load, weights_only by default, refuses their
// torch.jit._pickle.restore_type_tag).
//
//   StateDict                   names and CPU tensors, in file order
//   ReadStateDictFile(path)     errors name the file and say what is wrong
//   WriteStateDictFile(path, d) atomic (temp file + rename)
//
// LibTorch's unpickler reads plain dicts only: it turns a
// collections.OrderedDict, which is what Module.state_dict() returns, into
// None. Such a pickle is rewritten with plain dicts first
// (networks/ordered_dict_pickle.h), so `torch.save(net.state_dict(), PATH)`
// reads as it is; so does a dict of state dicts, by its 'ema' entry (or its
// only one): torch.save({'ema': net.state_dict()}, PATH).
//
// Example:
//   using namespace diffmem::networks;
//   absl::StatusOr<StateDict> sd = ReadStateDictFile("ema.pt");
//   const torch::Tensor* w = FindTensor(*sd, "model.map_layer0.weight");
//   absl::Status s = WriteStateDictFile("net.pt", *sd);   // Python: torch.load("net.pt")

#ifndef DIFFMEM_NETWORKS_STATE_DICT_FILE_H_
#define DIFFMEM_NETWORKS_STATE_DICT_FILE_H_

#include <sys/types.h>  // off_t, which in_memory_adapter.h uses without including it

#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <torch/serialize.h>
#include <torch/types.h>

#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <tuple>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "networks/ordered_dict_pickle.h"
#include "networks/torch_pickle_check.h"
#include "util/atomic_file.h"

namespace diffmem {
namespace networks {

using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

// The tensor called `name`, or null.
inline const torch::Tensor* FindTensor(const StateDict& sd, const std::string& name) {
  for (const auto& [key, tensor] : sd) {
    if (key == name) return &tensor;
  }
  return nullptr;
}

namespace internal_state_dict_file {

// The first line of an exception's message (c10::Error: without the backtrace).
inline std::string FirstLine(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string s = c10_error ? c10_error->what_without_backtrace() : e.what();
  const size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// What a value is, for messages: "a list", "a tensor", "None", ...
inline std::string Kind(const c10::IValue& v) {
  if (v.isTensor()) return "a tensor";
  if (v.isList()) return "a list";
  if (v.isTuple()) return "a tuple";
  if (v.isGenericDict()) return "a dict";
  if (v.isNone()) return "None";
  if (v.isInt()) return "an integer";
  if (v.isDouble()) return "a float";
  if (v.isBool()) return "a bool";
  if (v.isString()) return "a string";
  return absl::StrCat("a ", v.tagKind());
}

// The state dict inside a dict of them: the value under 'ema' (EDM's
// snapshots keep the EMA there), else the only value when there is one,
// when it is a dict; nothing when `d` is not such a dict.
inline std::optional<c10::impl::GenericDict> InnerStateDict(const c10::impl::GenericDict& d) {
  std::optional<c10::IValue> pick;
  for (const auto& item : d) {
    if (item.key().isString() && item.key().toStringRef() == "ema") pick = item.value();
  }
  if (!pick && d.size() == 1) pick = d.begin()->value();
  if (!pick || !pick->isGenericDict()) return std::nullopt;
  return pick->toGenericDict();
}

// A torch.save archive with `pickle` as its data.pkl and the tensor storages
// (data/KEY) of `reader`.
inline std::vector<char> WithPickle(caffe2::serialize::PyTorchStreamReader& reader, const std::string& pickle) {
  std::vector<char> out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* p, size_t n) {
    out.insert(out.end(), static_cast<const char*>(p), static_cast<const char*>(p) + n);
    return n;
  });
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  for (const std::string& name : reader.getAllRecords()) {
    if (!absl::StartsWith(name, "data/")) continue;
    auto [bytes, size] = reader.getRecord(name);
    writer.writeRecord(name, bytes.get(), size);
  }
  writer.writeEndOfFile();
  return out;
}

}  // namespace internal_state_dict_file

// Reads a dict of tensors written by Python's torch.save (or by
// WriteStateDictFile). Tensors are returned as stored (dtype, shape), on the CPU.
inline absl::StatusOr<StateDict> ReadStateDictFile(const std::string& path) {
  absl::StatusOr<std::string> bytes = util::ReadFileToString(path);
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
  auto unreadable = [&](const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a readable torch.save archive (truncated or damaged?): ",
                                                   internal_state_dict_file::FirstLine(e)));
  };
  // The pickle is checked before LibTorch runs it: on damaged data its
  // unpickler may ask for gigabytes or read past a record (torch_pickle_check.h).
  // Checking reads each record once more (a copy, one at a time).
  std::vector<char> rewritten;
  try {
    caffe2::serialize::PyTorchStreamReader reader(
        std::make_shared<caffe2::serialize::MemoryReadAdapter>(data.data(), static_cast<off_t>(data.size())));
    if (!reader.hasRecord("data.pkl")) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": a zip archive without data.pkl, not torch.save's"));
    }
    auto [pkl, size] = reader.getRecord("data.pkl");
    const std::string pickle(static_cast<const char*>(pkl.get()), size);
    const TorchRecordSize record_size = [&](const std::string& name) -> int64_t {
      return reader.hasRecord(name) ? static_cast<int64_t>(std::get<1>(reader.getRecord(name))) : -1;
    };
    absl::Status s = CheckTorchSavePickle(pickle, record_size);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": damaged torch.save archive: ", s.message()));
    // Module.state_dict()'s collections.OrderedDict, which LibTorch reads as
    // None: the same pickle with plain dicts, in an archive of its own.
    absl::StatusOr<std::string> plain = OrderedDictsAsDicts(pickle, record_size);
    if (!plain.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", plain.status().message()));
    if (*plain != pickle) rewritten = internal_state_dict_file::WithPickle(reader, *plain);
  } catch (const std::exception& e) {  // c10::Error, and std:: exceptions from damaged data
    return unreadable(e);
  }
  if (!rewritten.empty()) data.swap(rewritten);
  torch::IValue value;
  try {
    value = torch::pickle_load(data);
  } catch (const std::exception& e) {
    return unreadable(e);
  }
  if (!value.isGenericDict()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": holds ", internal_state_dict_file::Kind(value),
                                                   ", expected a dict from names to tensors; ", kResave));
  }
  // A dict of state dicts ({'ema': net.state_dict(), ...}): its 'ema', or its only one.
  c10::impl::GenericDict dict = value.toGenericDict();
  if (std::optional<c10::impl::GenericDict> inner = internal_state_dict_file::InnerStateDict(dict)) dict = *inner;
  StateDict out;
  for (const auto& item : dict) {
    if (!item.key().isString()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": a key of the dict is a ", item.key().tagKind(), ", expected tensor names (strings)"));
    }
    const std::string& name = item.key().toStringRef();
    if (!item.value().isTensor()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": '", name, "' is ",
                                                     internal_state_dict_file::Kind(item.value()),
                                                     ", expected a tensor (or one dict of tensors under 'ema')"));
    }
    out.emplace_back(name, item.value().toTensor().cpu());
  }
  return out;
}

namespace internal_state_dict_file {

// torch.save's zip format of `value`, pickled as plain Python values (no
// TorchScript type tags), the tensors as storages beside the pickle.
inline std::vector<char> PickleSavePlain(const c10::IValue& value) {
  std::vector<char> pickle;
  torch::jit::Pickler pickler([&](const char* p, size_t n) { pickle.insert(pickle.end(), p, p + n); },
                              /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
                              /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::vector<char> out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* p, size_t n) {
    out.insert(out.end(), static_cast<const char*>(p), static_cast<const char*>(p) + n);
    return n;
  });
  torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  return out;
}

}  // namespace internal_state_dict_file

// Writes `sd` so that Python's torch.load returns a dict of CPU tensors.
inline absl::Status WriteStateDictFile(const std::string& path, const StateDict& sd) {
  std::vector<char> bytes;
  try {
    c10::Dict<std::string, torch::Tensor> dict;
    for (const auto& [name, tensor] : sd) {
      if (dict.contains(name)) return absl::InvalidArgumentError(absl::StrCat(path, ": duplicate tensor '", name, "'"));
      dict.insert(name, tensor.detach().cpu().contiguous());
    }
    bytes = internal_state_dict_file::PickleSavePlain(dict);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(path, ": cannot serialize the state dict: ", internal_state_dict_file::FirstLine(e)));
  }
  return util::WriteFileAtomically(path, absl::string_view(bytes.data(), bytes.size()));
}

}  // namespace networks
}  // namespace diffmem

#endif  // DIFFMEM_NETWORKS_STATE_DICT_FILE_H_
