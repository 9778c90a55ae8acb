#include "networks/ordered_dict_pickle.h"

#include <caffe2/serialize/inline_container.h>

#include <string>
#include <tuple>

#include "gtest/gtest.h"

namespace diffmem {
namespace networks {
namespace {

struct Archive {
  explicit Archive(const std::string& name) : reader("testing/fixtures/torch_save/" + name) {
    auto [data, size] = reader.getRecord("data.pkl");
    pickle.assign(static_cast<const char*>(data.get()), size);
  }
  TorchRecordSize Sizes() {
    return [this](const std::string& record) -> int64_t {
      return reader.hasRecord(record) ? static_cast<int64_t>(std::get<1>(reader.getRecord(record))) : -1;
    };
  }
  caffe2::serialize::PyTorchStreamReader reader;
  std::string pickle;
};

int Count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

TEST(OrderedDictPickleTest, APickleWithoutOrderedDictIsReturnedUnchanged) {
  using namespace std::string_literals;
  const std::string plain = "\x80\x02}q\x00X\x01\x00\x00\x00" "aK\x01s."s;  // {'a': 1}
  absl::StatusOr<std::string> out = OrderedDictsAsDicts(plain, [](const std::string&) { return int64_t{-1}; });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, plain);
}

// torch.save(net.state_dict()): no OrderedDict and no _metadata are left,
// every tensor is still there, and the result passes the check.
// (state_dict_file_test reads the tensors back against the plain files.)
TEST(OrderedDictPickleTest, AStateDictBecomesAPlainDictWithoutMetadata) {
  for (const char* name : {"state_dict.pt", "ema.pt", "many.pt"}) {
    Archive a(name);
    ASSERT_NE(a.pickle.find("_metadata"), std::string::npos) << name;
    absl::StatusOr<std::string> out = OrderedDictsAsDicts(a.pickle, a.Sizes());
    ASSERT_TRUE(out.ok()) << name << ": " << out.status();
    EXPECT_EQ(out->find("OrderedDict"), std::string::npos) << name;
    EXPECT_EQ(out->find("_metadata"), std::string::npos) << name;
    EXPECT_EQ(Count(*out, "_rebuild_tensor_v2"), Count(a.pickle, "_rebuild_tensor_v2")) << name;
    EXPECT_TRUE(CheckTorchSavePickle(*out, a.Sizes()).ok()) << name;
  }
  // The large one needs memo indices beyond 255 (LONG_BINPUT, 'r') in and out.
  Archive many("many.pt");
  absl::StatusOr<std::string> out = OrderedDictsAsDicts(many.pickle, many.Sizes());
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->find("r\x00\x01\x00\x00", 0, 5), std::string::npos) << "a LONG_BINPUT of index 256";
}

TEST(OrderedDictPickleTest, OtherUsesOfOrderedDictAreRefused) {
  auto error = [](const std::string& pickle) {
    absl::StatusOr<std::string> out = OrderedDictsAsDicts(pickle, [](const std::string&) { return int64_t{-1}; });
    EXPECT_FALSE(out.ok()) << pickle;
    return out.ok() ? std::string() : std::string(out.status().message());
  };
  using namespace std::string_literals;
  // OrderedDict([]): called with arguments.
  EXPECT_NE(error("\x80\x02" "ccollections\nOrderedDict\nq\x00]q\x01\x85R."s).find("used other than"),
            std::string::npos);
  // The class itself as a value of the dict.
  EXPECT_NE(error("\x80\x02}q\x00X\x01\x00\x00\x00" "cccollections\nOrderedDict\nq\x01s."s).find("used other than"),
            std::string::npos);
  // A BUILD on a plain dict (OrderedDict elsewhere, so the pickle is rewritten).
  const std::string build = error("\x80\x02}q\x00X\x01\x00\x00\x00" "kccollections\nOrderedDict\nq\x01)Rq\x02s}q\x03" "b."s);
  EXPECT_NE(build.find("BUILD) of something other than an OrderedDict"), std::string::npos) << build;
  // Protocol 4 is not rewritten.
  EXPECT_NE(error("\x80\x04" "ccollections\nOrderedDict\n)R."s).find("protocol other than 2"), std::string::npos);
}

}  // namespace
}  // namespace networks
}  // namespace diffmem
