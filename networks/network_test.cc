#include "networks/network.h"

#include <gtest/gtest.h>

#include <string>
#include <type_traits>

namespace diffmem {
namespace networks {
namespace {

TEST(NetworkTest, VisitMapsNamesToTypes) {
  std::string seen;
  NetworkConfig c;
  c.spec = "ncsnpp";
  c.precond = "vp";
  c.unet = UNetOptions(8, 1, 1).model_channels(8).channel_mult({1, 2}).num_blocks(1).attn_resolutions({});
  absl::Status s = VisitNetwork(c, [&](auto spec, auto precond) {
    using Spec = typename decltype(spec)::type;
    using Precond = typename decltype(precond)::type;
    static_assert(IsUNetSpec<Spec>::value, "");
    seen = absl::StrCat(Spec::kName, "+", Precond::kName,
                        std::is_same<Precond, diffusion::VpPreconditioner>::value ? "!" : "?");
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(seen, "ncsnpp+vp!");
  EXPECT_EQ(RegistryNames<UNetSpecs>(), (std::vector<std::string>{"ddpmpp", "ncsnpp"}));
  EXPECT_EQ(RegistryNames<Preconditioners>(), (std::vector<std::string>{"edm", "vp", "ve", "iddpm"}));
}

TEST(NetworkTest, UnknownNamesListTheChoices) {
  NetworkConfig c;
  c.spec = "adm";
  absl::Status s = VisitNetwork(c, [](auto, auto) { return absl::OkStatus(); });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'adm'"), std::string::npos) << s;
  EXPECT_NE(s.message().find("ddpmpp, ncsnpp"), std::string::npos) << s;
  c.spec = "ddpmpp";
  c.precond = "edm2";
  s = VisitNetwork(c, [](auto, auto) { return absl::OkStatus(); });
  EXPECT_NE(s.message().find("edm, vp, ve, iddpm"), std::string::npos) << s;
}

TEST(NetworkTest, JsonRoundTrip) {
  NetworkConfig c;
  c.spec = "ncsnpp";
  c.precond = "ve";
  c.unet = UNetOptions(16, 3, 2)
               .model_channels(24)
               .channel_mult({1, 2, 3})
               .num_blocks(2)
               .attn_resolutions({8, 4})
               .dropout(0.13)
               .label_dim(7)
               .embedding(NoiseEmbedding::kPositional)
               .fourier_scale(3.5)
               .skip_mask({true, false, true, true, false, true, true, true, false});
  const nlohmann::json j = NetworkConfigToJson(c);
  absl::StatusOr<NetworkConfig> back = NetworkConfigFromJson(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(NetworkConfigToJson(*back), j);
  EXPECT_EQ(back->unet.skip_mask(), c.unet.skip_mask());
  EXPECT_EQ(back->unet.embedding(), NoiseEmbedding::kPositional);
  EXPECT_EQ(j["unet"]["skip_mask"], "101101110");
  nlohmann::json broken = j;
  broken["unet"].erase("num_blocks");
  EXPECT_FALSE(NetworkConfigFromJson(broken).ok());
  broken = j;
  broken["unet"]["skip_mask"] = "10";  // wrong length for this network
  EXPECT_FALSE(NetworkConfigFromJson(broken).ok());
}

TEST(NetworkTest, Parsers) {
  EXPECT_EQ(*ParseIntList("1,2,2", "--channel_mult"), (std::vector<int64_t>{1, 2, 2}));
  EXPECT_TRUE(ParseIntList("", "--attn")->empty());
  absl::StatusOr<std::vector<int64_t>> bad = ParseIntList("1,x", "--channel_mult");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--channel_mult"), std::string::npos);
  EXPECT_EQ(*ParseSkipMask("0110"), (std::vector<bool>{false, true, true, false}));
  EXPECT_TRUE(ParseSkipMask("all")->empty());
  EXPECT_FALSE(ParseSkipMask("01a").ok());
  EXPECT_EQ(*ParseNoiseEmbedding("fourier"), NoiseEmbedding::kFourier);
  EXPECT_FALSE(ParseNoiseEmbedding("sinusoid").ok());
}

}  // namespace
}  // namespace networks
}  // namespace diffmem
