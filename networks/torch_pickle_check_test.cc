#include "networks/torch_pickle_check.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/serialize.h>
#include <torch/types.h>

#include <fstream>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "testing/edm_fixtures.h"

namespace diffmem {
namespace networks {
namespace {

using namespace std::string_literals;

// data.pkl of a torch.save archive and the sizes of its records.
struct Archive {
  std::string pickle;
  std::map<std::string, int64_t> sizes;
  int64_t Size(const std::string& name) const {
    auto it = sizes.find(name);
    return it == sizes.end() ? -1 : it->second;
  }
};

Archive Open(const std::string& path) {
  caffe2::serialize::PyTorchStreamReader reader(path);
  Archive a;
  auto [data, size] = reader.getRecord("data.pkl");
  a.pickle.assign(static_cast<const char*>(data.get()), size);
  for (const std::string& name : reader.getAllRecords()) {  // "data.pkl", "data/0", …
    if (name.rfind("data/", 0) == 0) a.sizes[name] = static_cast<int64_t>(std::get<1>(reader.getRecord(name)));
  }
  return a;
}

absl::Status Check(const Archive& a) {
  return CheckTorchSavePickle(a.pickle, [&](const std::string& name) { return a.Size(name); });
}

// Everything Python's torch.save wrote for the tests, and LibTorch's own writer, passes.
TEST(TorchPickleCheckTest, AcceptsWhatTorchSaveWrites) {
  for (const char* name : {"ddpmpp_vp.pt", "ncsnpp_edm.pt", "noise.pt", "reference.pt", "sampler.pt",
                           "skip_encoder.pt", "ordered_dict.pt"}) {
    const Archive a = Open(testing_edm::EdmFixturePath(name));
    EXPECT_FALSE(a.sizes.empty()) << name;
    EXPECT_TRUE(Check(a).ok()) << name << ": " << Check(a);
  }
  c10::Dict<std::string, torch::Tensor> dict;
  dict.insert("w", torch::ones({3, 2}, torch::kFloat64));
  dict.insert("i", torch::arange(5));
  const std::vector<char> bytes = torch::pickle_save(dict);
  const std::string path = ::testing::TempDir() + "/saved.pt";
  std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
  EXPECT_TRUE(Check(Open(path)).ok());
}

// A storage reference ('storage', torch.FloatStorage, '0', 'cpu', 16) in a tuple.
std::string StoragePickle(int numel) {
  return "\x80\x02}q\x00(X\x07\x00\x00\x00storageq\x01"
         "ctorch\nFloatStorage\nq\x02X\x01\x00\x00\x00"
         "0q\x03X\x03\x00\x00\x00"
         "cpuq\x04K"s +
         static_cast<char>(numel) + "tq\x05Q."s;
}

TEST(TorchPickleCheckTest, RefusesDamage) {
  auto message = [](const std::string& pickle, int64_t record_bytes = 64) {
    absl::Status s = CheckTorchSavePickle(pickle, [&](const std::string& name) {
      return name == "data/0" ? record_bytes : int64_t{-1};
    });
    return s.ok() ? std::string("ok") : std::string(s.message());
  };
  EXPECT_EQ(message("\x80\x02}q\x00."s), "ok");
  EXPECT_EQ(message(StoragePickle(16)), "ok");  // 16 floats in 64 bytes
  EXPECT_NE(message(StoragePickle(17)).find("claims 17 elements of 4 bytes but its record holds 64 bytes"),
            std::string::npos);
  EXPECT_NE(message(StoragePickle(16), -1).find("has no record"), std::string::npos);
  // LONG_BINPUT at index 0x13000000 with nothing stored yet.
  EXPECT_NE(message("\x80\x02}r\x00\x00\x00\x13."s).find("memo index 318767104 with only 0"),
            std::string::npos);
  EXPECT_NE(message("\x80\x02h\x05."s).find("memo index 5 was never stored"), std::string::npos);
  EXPECT_NE(message("\x80\x02X\xff\xff\xff\x7f" "abc."s).find("runs past the end"), std::string::npos);
  EXPECT_NE(message("\x80\x02i."s).find("opcode 0x69"), std::string::npos);
  EXPECT_NE(message("\x80\x02}"s).find("no STOP"), std::string::npos);
  EXPECT_NE(message("\x80\x02s."s).find("the stack does not hold"), std::string::npos);
  EXPECT_NE(message("\x80\x02(K\x01Q."s).find("not a storage reference"), std::string::npos);
}

// A pickle that would build an object other than tensors and dicts (the
// payload of a __reduce__ exploit) is refused by name, protocol 2 or 4.
TEST(TorchPickleCheckTest, RefusesGlobalsAStateDictDoesNotHold) {
  auto message = [](const std::string& pickle) {
    absl::Status s = CheckTorchSavePickle(pickle, [](const std::string&) { return int64_t{-1}; });
    return s.ok() ? std::string("ok") : std::string(s.message());
  };
  EXPECT_NE(message("\x80\x02" "cposix\nsystem\nq\x00X\x02\x00\x00\x00" "lsq\x01\x85q\x02Rq\x03."s)
                .find("names the global 'posix.system', which is not a tensor, a storage or an OrderedDict"),
            std::string::npos);
  EXPECT_NE(message("\x80\x04\x8c\x08" "builtins\x8c\x04" "eval\x93."s).find("global 'builtins.eval'"),
            std::string::npos);
  EXPECT_NE(message("\x80\x04K\x01K\x02\x93."s).find("STACK_GLOBAL of something other than two strings"),
            std::string::npos);
  EXPECT_EQ(message("\x80\x02" "ccollections\nOrderedDict\nq\x00)R."s), "ok");
  EXPECT_EQ(message("\x80\x04\x8c\x05" "torch\x8c\x0c" "FloatStorage\x93."s), "ok");
}

// Random byte damage to a real pickle: the check always answers (no crash,
// no exception), and what it accepts has no out-of-range memo index.
TEST(TorchPickleCheckTest, RandomDamageIsAnsweredCalmly) {
  const Archive a = Open(testing_edm::EdmFixturePath("ddpmpp_vp.pt"));
  std::mt19937 rng(7);
  int refused = 0;
  for (int i = 0; i < 3000; ++i) {
    Archive damaged = a;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) {
      damaged.pickle[rng() % damaged.pickle.size()] = static_cast<char>(rng());
    }
    if (rng() % 4 == 0) damaged.pickle.resize(rng() % damaged.pickle.size());
    refused += !Check(damaged).ok();
  }
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace networks
}  // namespace diffmem
