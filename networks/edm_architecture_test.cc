#include "networks/edm_architecture.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "networks/edm_state_dict.h"
#include "networks/state_dict_file.h"
#include "testing/edm_fixtures.h"

namespace diffmem {
namespace networks {
namespace {

using testing_edm::ReadEdmFixture;

// The fixtures' architectures as make_edm_fixture.py built them in EDM.
TEST(EdmArchitectureTest, ReadsTheFixtures) {
  absl::StatusOr<NetworkConfig> c = InferEdmNetwork(ReadEdmFixture("ddpmpp_vp.pt"), "ddpmpp_vp.pt", "vp");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->spec, "ddpmpp");
  EXPECT_EQ(c->precond, "vp");
  const UNetOptions& o = c->unet;
  EXPECT_EQ(o.img_resolution(), 8);
  EXPECT_EQ(o.in_channels(), 3);
  EXPECT_EQ(o.out_channels(), 3);
  EXPECT_EQ(o.model_channels(), 8);
  EXPECT_EQ(o.channel_mult(), std::vector<int64_t>({1, 2}));
  EXPECT_EQ(o.channel_mult_emb(), 4);
  EXPECT_EQ(o.num_blocks(), 1);
  EXPECT_EQ(o.attn_resolutions(), std::vector<int64_t>({4}));
  EXPECT_EQ(o.label_dim(), 3);
  EXPECT_EQ(o.embedding(), NoiseEmbedding::kSpecDefault);

  c = InferEdmNetwork(ReadEdmFixture("ncsnpp_edm.pt"), "ncsnpp_edm.pt", "edm");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->spec, "ncsnpp");
  EXPECT_EQ(c->unet.model_channels(), 4);
  EXPECT_EQ(c->unet.channel_mult(), std::vector<int64_t>({1, 2, 2}));
  EXPECT_EQ(c->unet.attn_resolutions(), std::vector<int64_t>({4}));
  EXPECT_EQ(c->unet.label_dim(), 0);
  EXPECT_EQ(c->unet.embedding(), NoiseEmbedding::kSpecDefault);
}

// Whatever diffmem exports, it reads back as the same architecture.
TEST(EdmArchitectureTest, ReadsBackExports) {
  const std::vector<UNetOptions> all = {
      UNetOptions(16, 3, 3).model_channels(8).channel_mult({2, 2, 2}).num_blocks(2).attn_resolutions({8, 4}).label_dim(
          10),
      UNetOptions(8, 1, 1).model_channels(4).channel_mult({1}).num_blocks(1).attn_resolutions({}),
      UNetOptions(8, 1, 1)
          .model_channels(4)
          .channel_mult({1, 3})
          .num_blocks(3)
          .attn_resolutions({})
          .embedding(NoiseEmbedding::kFourier)
          .channel_mult_emb(2),
  };
  for (const UNetOptions& o : all) {
    for (const bool ncsnpp : {false, true}) {
      absl::StatusOr<StateDict> sd;
      UNetOptions want = UNetOptions(o).dropout(0);
      if (ncsnpp) {
        UNet<NcsnppSpec> net(o);
        sd = ToEdmStateDict<diffusion::EdmPreconditioner>(net);
        if (o.embedding() == NcsnppSpec::kEmbedding) want.embedding(NoiseEmbedding::kSpecDefault);
      } else {
        UNet<DdpmppSpec> net(o);
        sd = ToEdmStateDict<diffusion::EdmPreconditioner>(net);
        if (o.embedding() == DdpmppSpec::kEmbedding) want.embedding(NoiseEmbedding::kSpecDefault);
      }
      ASSERT_TRUE(sd.ok());
      absl::StatusOr<NetworkConfig> c = InferEdmNetwork(*sd, "x.pt", "edm");
      ASSERT_TRUE(c.ok()) << c.status();
      EXPECT_EQ(c->spec, ncsnpp ? "ncsnpp" : "ddpmpp");
      EXPECT_EQ(NetworkConfigToJson(*c)["unet"].dump(), UNetOptionsToJson(want).dump());
    }
  }
  // iDDPM: 2·C outputs in the file, C in diffmem.
  UNet<DdpmppSpec> net(UNetOptions(4, 3, 3).model_channels(4).channel_mult({1, 1}).num_blocks(1).attn_resolutions({}));
  absl::StatusOr<NetworkConfig> c = InferEdmNetwork(*ToEdmStateDict<diffusion::IddpmPreconditioner>(net), "i.pt", "iddpm");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->unet.out_channels(), 3);
  EXPECT_FALSE(InferEdmNetwork(*ToEdmStateDict<diffusion::IddpmPreconditioner>(net), "i.pt", "vp").ok());
}

// The Python that builds the fixtures' networks in EDM (make_edm_fixture.py
// passes the same values; defaults spelled out).
TEST(EdmArchitectureTest, ConstructorInEdmsTerms) {
  absl::StatusOr<NetworkConfig> c = InferEdmNetwork(ReadEdmFixture("ddpmpp_vp.pt"), "ddpmpp_vp.pt", "vp");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*EdmConstructor(*c),
            "networks.VPPrecond(img_resolution=8, img_channels=3, label_dim=3, model_type='SongUNet', "
            "model_channels=8, channel_mult=[1, 2], channel_mult_emb=4, num_blocks=1, attn_resolutions=[4], "
            "dropout=0, embedding_type='positional', channel_mult_noise=1, encoder_type='standard', decoder_type='standard', "
            "resample_filter=[1, 1])");
  c = InferEdmNetwork(ReadEdmFixture("ncsnpp_edm.pt"), "ncsnpp_edm.pt", "edm");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*EdmConstructor(*c),
            "networks.EDMPrecond(img_resolution=8, img_channels=2, label_dim=0, model_type='SongUNet', "
            "model_channels=4, channel_mult=[1, 2, 2], channel_mult_emb=4, num_blocks=1, attn_resolutions=[4], "
            "dropout=0, embedding_type='fourier', channel_mult_noise=2, encoder_type='residual', decoder_type='standard', "
            "resample_filter=[1, 3, 3, 1])");
  c->precond = "nope";
  EXPECT_FALSE(EdmConstructor(*c).ok());
}

// Every registered preconditioner exports as its own EDM class (kEdmClass),
// so a new policy cannot silently export as another's.
TEST(EdmArchitectureTest, EachPreconditionerExportsAsItsEdmClass) {
  absl::StatusOr<NetworkConfig> c = InferEdmNetwork(ReadEdmFixture("ddpmpp_vp.pt"), "ddpmpp_vp.pt", "vp");
  ASSERT_TRUE(c.ok()) << c.status();
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"edm", "EDMPrecond"}, {"vp", "VPPrecond"}, {"ve", "VEPrecond"}, {"iddpm", "iDDPMPrecond"}};
  for (const auto& [name, edm_class] : expected) {
    c->precond = name;
    absl::StatusOr<std::string> python = EdmConstructor(*c);
    ASSERT_TRUE(python.ok()) << python.status();
    EXPECT_EQ(python->substr(0, python->find('(')), "networks." + edm_class) << name;
  }
}

TEST(EdmArchitectureTest, RefusesWhatDiffmemDoesNotHave) {
  auto error = [](const StateDict& sd, const std::string& precond = "vp") {
    absl::StatusOr<NetworkConfig> c = InferEdmNetwork(sd, "f.pt", precond);
    EXPECT_FALSE(c.ok());
    return c.ok() ? std::string() : std::string(c.status().message());
  };
  // EDM's 'skip' encoder (a SongUNet EDM wrote, encoder_type='skip').
  std::string msg = error(ReadEdmFixture("skip_encoder.pt"));
  EXPECT_NE(msg.find("f.pt: 'model.enc.4x4_aux_"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'skip' encoder"), std::string::npos) << msg;

  const StateDict edm = ReadEdmFixture("ddpmpp_vp.pt");
  StateDict adm = edm;
  adm.emplace_back("model.out_conv.weight", torch::ones({3, 8, 3, 3}));
  EXPECT_NE(error(adm).find("DhariwalUNet"), std::string::npos);

  StateDict uneven = edm;  // a second block at 4×4 only
  uneven.emplace_back("model.enc.4x4_block1.conv0.weight", torch::ones({16, 16, 3, 3}));
  msg = error(uneven);
  EXPECT_NE(msg.find("'model.enc.4x4_block1.conv0.weight': 2 blocks at this resolution but 1 at 8"), std::string::npos)
      << msg;

  StateDict odd_width = edm;  // 12 channels at 4×4 with model_channels 8
  for (auto& [name, t] : odd_width) {
    if (name == "model.enc.4x4_block0.conv0.weight") t = torch::ones({12, 8, 3, 3});
  }
  EXPECT_NE(error(odd_width).find("12 channels is not a multiple of model_channels 8"), std::string::npos);

  msg = error(StateDict{{"model.map_layer0.weight", torch::ones({4, 4})}});
  EXPECT_NE(msg.find("no first convolution"), std::string::npos) << msg;
  msg = error(edm, "iddpm");
  EXPECT_NE(msg.find("'model.dec.8x8_aux_conv.weight': 3 outputs; iDDPM's network has 2·3"), std::string::npos) << msg;
  msg = error(edm, "no_such_precond");
  EXPECT_NE(msg.find("unknown preconditioner 'no_such_precond'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace networks
}  // namespace diffmem
