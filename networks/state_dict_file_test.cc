#include "networks/state_dict_file.h"

#include <torch/serialize.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "testing/edm_fixtures.h"

namespace diffmem {
namespace networks {
namespace {

using testing_edm::EdmFixturePath;

std::string WriteBytes(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string ReadBytes(const std::string& path) {
  absl::StatusOr<std::string> s = util::ReadFileToString(path);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

TEST(StateDictFileTest, ReadsWhatPythonWrote) {
  absl::StatusOr<StateDict> sd = ReadStateDictFile(EdmFixturePath("ddpmpp_vp.pt"));
  ASSERT_TRUE(sd.ok()) << sd.status();
  ASSERT_EQ(sd->size(), 148u);  // torch.load(...) in Python: 148 entries, in this order
  EXPECT_EQ((*sd)[0].first, "model.map_label.weight");
  EXPECT_EQ((*sd)[2].first, "model.map_layer0.weight");
  EXPECT_EQ((*sd)[2].second.sizes(), torch::IntArrayRef({32, 8}));
  EXPECT_EQ((*sd)[2].second.scalar_type(), torch::kFloat32);
  const torch::Tensor* filter = FindTensor(*sd, "model.enc.4x4_down.conv0.resample_filter");
  ASSERT_NE(filter, nullptr);
  EXPECT_TRUE(torch::equal(*filter, torch::full({1, 1, 2, 2}, 0.25)));  // EDM's [1,1] filter, f⊗f/4
  EXPECT_EQ(FindTensor(*sd, "model.no_such_tensor"), nullptr);

  // Values the fixture script wrote literally.
  absl::StatusOr<StateDict> ref = ReadStateDictFile(EdmFixturePath("reference.pt"));
  ASSERT_TRUE(ref.ok()) << ref.status();
  const torch::Tensor* labels = FindTensor(*ref, "labels");
  const torch::Tensor* sigma = FindTensor(*ref, "sigma");
  ASSERT_TRUE(labels && sigma);
  EXPECT_TRUE(torch::equal(*labels, torch::tensor({0, 2, 1, 2}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(*sigma, torch::tensor({0.002f, 0.3f, 2.5f, 80.0f})));
}

TEST(StateDictFileTest, WriteThenReadIsExact) {
  torch::manual_seed(5);
  StateDict sd = {{"b.weight", torch::randn({3, 4}).t()},  // a non-contiguous view
                  {"a.table", torch::randn({5}, torch::kFloat64)},
                  {"c.count", torch::arange(4, torch::kInt64)}};
  const std::string path = ::testing::TempDir() + "/roundtrip.pt";
  ASSERT_TRUE(WriteStateDictFile(path, sd).ok());
  absl::StatusOr<StateDict> back = ReadStateDictFile(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), sd.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    EXPECT_EQ((*back)[i].first, sd[i].first);
    EXPECT_EQ((*back)[i].second.scalar_type(), sd[i].second.scalar_type());
    EXPECT_TRUE(torch::equal((*back)[i].second, sd[i].second)) << sd[i].first;
  }
  EXPECT_FALSE(WriteStateDictFile(path, {{"x", torch::ones({1})}, {"x", torch::ones({1})}}).ok());
  const absl::Status s = WriteStateDictFile(::testing::TempDir() + "/no/such/dir/x.pt", sd);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(std::filesystem::exists(::testing::TempDir() + "/no/such/dir/x.pt"));
}

// What is written is plain pickle: its only globals are those torch.save of a
// dict of tensors uses (tensor rebuild, typed storages), all on the allow-list
// of PyTorch >= 2.6's weights_only torch.load; no TorchScript type tags.
TEST(StateDictFileTest, WrittenPickleUsesOnlyGlobalsThatWeightsOnlyLoadAllows) {
  const StateDict sd = {{"w", torch::randn({2, 3})}, {"t", torch::randn({4}, torch::kFloat64)},
                        {"i", torch::arange(3, torch::kInt64)}};
  const std::string path = ::testing::TempDir() + "/plain.pt";
  ASSERT_TRUE(WriteStateDictFile(path, sd).ok());
  caffe2::serialize::PyTorchStreamReader reader(path);
  auto [data, size] = reader.getRecord("data.pkl");
  const std::string pickle(static_cast<const char*>(data.get()), size);
  const std::regex global("c([A-Za-z_][A-Za-z_0-9.]*)\n([A-Za-z_][A-Za-z_0-9]*)\n");
  const std::set<std::string> allowed = {"torch._utils._rebuild_tensor_v2", "collections.OrderedDict",  // hooks
                                         "torch.FloatStorage", "torch.DoubleStorage", "torch.LongStorage"};
  std::set<std::string> seen;
  for (std::sregex_iterator it(pickle.begin(), pickle.end(), global), end; it != end; ++it) {
    seen.insert((*it)[1].str() + "." + (*it)[2].str());
  }
  EXPECT_TRUE(seen.count("torch._utils._rebuild_tensor_v2")) << "the pattern finds the globals";
  for (const std::string& g : seen) EXPECT_TRUE(allowed.count(g)) << g;
  EXPECT_EQ(pickle.find("restore_type_tag"), std::string::npos);
}

std::string TorchSaveFixture(const std::string& name) { return "testing/fixtures/torch_save/" + name; }

// The same names in the same order, and the same tensors (dtype, shape, values).
void ExpectSameStateDict(const StateDict& a, const StateDict& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first) << what;
    EXPECT_EQ(a[i].second.scalar_type(), b[i].second.scalar_type()) << what << " " << a[i].first;
    EXPECT_TRUE(a[i].second.sizes() == b[i].second.sizes() && torch::equal(a[i].second, b[i].second))
        << what << " " << a[i].first;
  }
}

// torch.save(net.state_dict()) as is (a collections.OrderedDict), and a dict
// of state dicts, read as the plain dict torch.save(dict(...)) wrote.
TEST(StateDictFileTest, ReadsAStateDictSavedAsIs) {
  auto read = [](const std::string& name) {
    absl::StatusOr<StateDict> sd = ReadStateDictFile(TorchSaveFixture(name));
    EXPECT_TRUE(sd.ok()) << name << ": " << sd.status();
    return sd.ok() ? *sd : StateDict{};
  };
  const StateDict plain = read("state_dict_plain.pt");
  ASSERT_EQ(plain.size(), 7u);  // conv, group norm and linear weights and biases, the int64 buffer
  EXPECT_EQ(plain[0].first, "steps");  // the module's own buffer before its children's
  EXPECT_TRUE(torch::equal(plain[0].second, torch::arange(3, torch::kInt64)));
  ExpectSameStateDict(read("state_dict.pt"), plain, "state_dict.pt");
  ExpectSameStateDict(read("ema.pt"), plain, "ema.pt");
  const StateDict many = read("many_plain.pt");
  ASSERT_EQ(many.size(), 300u);
  ExpectSameStateDict(read("many.pt"), many, "many.pt");
  // The file EDM's users write from a torch.nn.Linear(2, 2).
  absl::StatusOr<StateDict> linear = ReadStateDictFile(EdmFixturePath("ordered_dict.pt"));
  ASSERT_TRUE(linear.ok()) << linear.status();
  ASSERT_EQ(linear->size(), 2u);
  EXPECT_EQ((*linear)[0].first, "weight");
  EXPECT_EQ((*linear)[0].second.sizes(), torch::IntArrayRef({2, 2}));
  EXPECT_EQ((*linear)[1].first, "bias");
}

TEST(StateDictFileTest, BadFilesAreClearErrors) {
  auto error = [](const std::string& path) {
    absl::StatusOr<StateDict> sd = ReadStateDictFile(path);
    EXPECT_FALSE(sd.ok()) << path;
    return sd.ok() ? std::string() : std::string(sd.status().message());
  };
  EXPECT_NE(error(::testing::TempDir() + "/missing.pt").find("cannot open"), std::string::npos);

  std::string msg = error(WriteBytes("text.pt", "hello, not a zip"));
  EXPECT_NE(msg.find("text.pt: not a zip archive"), std::string::npos) << msg;
  msg = error(WriteBytes("empty.pt", ""));
  EXPECT_NE(msg.find("not a zip archive"), std::string::npos) << msg;

  const std::string whole = ReadBytes(EdmFixturePath("ddpmpp_vp.pt"));
  for (size_t keep : {whole.size() / 2, whole.size() - 10}) {
    msg = error(WriteBytes("truncated.pt", whole.substr(0, keep)));
    EXPECT_NE(msg.find("truncated.pt: not a readable torch.save archive (truncated or damaged?)"), std::string::npos)
        << msg;
  }

  // What Python's torch.save wrote, but not a dict: said as what it is.
  msg = error(TorchSaveFixture("list.pt"));
  EXPECT_NE(msg.find("list.pt: holds a list, expected a dict from names to tensors"), std::string::npos) << msg;
  msg = error(TorchSaveFixture("tensor.pt"));
  EXPECT_NE(msg.find("tensor.pt: holds a tensor, expected a dict from names to tensors"), std::string::npos) << msg;

  // Zip archives of the right kind holding the wrong things.
  auto pickled = [](const std::string& name, const torch::IValue& v) {
    std::vector<char> bytes = torch::pickle_save(v);
    return WriteBytes(name, std::string(bytes.begin(), bytes.end()));
  };
  msg = error(pickled("list.pt", c10::List<int64_t>({1, 2})));
  EXPECT_NE(msg.find("expected a dict from names to tensors"), std::string::npos) << msg;
  c10::Dict<std::string, std::string> strings;
  strings.insert("model.x", "not a tensor");
  msg = error(pickled("strings.pt", strings));
  EXPECT_NE(msg.find("'model.x' is a string, expected a tensor"), std::string::npos) << msg;
  c10::Dict<int64_t, torch::Tensor> numbered;
  numbered.insert(3, torch::ones({1}));
  msg = error(pickled("numbered.pt", numbered));
  EXPECT_NE(msg.find("expected tensor names"), std::string::npos) << msg;
}

}  // namespace
}  // namespace networks
}  // namespace diffmem
