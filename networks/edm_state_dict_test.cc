#include "networks/edm_state_dict.h"

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "diffusion/denoiser.h"
#include "gtest/gtest.h"
#include "networks/edm_architecture.h"
#include "networks/state_dict_file.h"
#include "testing/edm_fixtures.h"

namespace diffmem {
namespace networks {
namespace {

using testing_edm::ReadEdmFixture;

StateDict Read(const std::string& path) {
  absl::StatusOr<StateDict> sd = ReadStateDictFile(path);
  EXPECT_TRUE(sd.ok()) << sd.status();
  return sd.ok() ? *sd : StateDict();
}

// The architecture of ddpmpp_vp.pt (see testing/fixtures/make_edm_fixture.py).
UNetOptions DdpmppFixtureOptions() {
  return UNetOptions(8, 3, 3)
      .model_channels(8)
      .channel_mult({1, 2})
      .num_blocks(1)
      .attn_resolutions({4})
      .dropout(0)
      .label_dim(3);
}

// Every parameter and buffer redrawn, so that no tensor is zero or constant.
template <class Net>
void Randomize(Net& net, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (torch::Tensor& p : net->parameters()) p.copy_(torch::randn_like(p) * 0.3);
  for (torch::Tensor& b : net->buffers()) b.copy_(torch::randn_like(b) * 4);
}

TEST(EdmStateDictTest, TensorNames) {
  EXPECT_EQ(EdmTensorName("enc_32x32_conv.weight", 32), "enc.32x32_conv.weight");
  EXPECT_EQ(EdmTensorName("dec_16x16_block3.qkv.bias", 32), "dec.16x16_block3.qkv.bias");
  EXPECT_EQ(EdmTensorName("out_norm.weight", 32), "dec.32x32_aux_norm.weight");
  EXPECT_EQ(EdmTensorName("out_conv.bias", 8), "dec.8x8_aux_conv.bias");
  EXPECT_EQ(EdmTensorName("map_layer0.weight", 8), "map_layer0.weight");
}

// The export has exactly the names and shapes of the state dict EDM's own
// VPPrecond(SongUNet) wrote for the same architecture, filters included: what
// Python's strict load_state_dict requires.
TEST(EdmStateDictTest, ExportHasEdmsNamesAndShapes) {
  const StateDict edm = ReadEdmFixture("ddpmpp_vp.pt");
  UNet<DdpmppSpec> net(DdpmppFixtureOptions());
  absl::StatusOr<StateDict> ours = ToEdmStateDict<diffusion::VpPreconditioner>(net);
  ASSERT_TRUE(ours.ok()) << ours.status();
  ASSERT_EQ(ours->size(), edm.size());
  for (const auto& [name, tensor] : edm) {
    const torch::Tensor* t = FindTensor(*ours, name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->sizes(), tensor.sizes()) << name;
    if (absl::EndsWith(name, "resample_filter")) {
      EXPECT_TRUE(torch::equal(*t, tensor)) << name;
    }
  }
  absl::StatusOr<StateDict> bare = ToEdmStateDict<diffusion::VpPreconditioner>(net, "");
  ASSERT_TRUE(bare.ok());
  EXPECT_NE(FindTensor(*bare, "enc.8x8_conv.weight"), nullptr);
}

// Export, write, read, import: the same tensors and bit-identical outputs,
// for both families, conditional or not, under iDDPM's 2·C outputs too.
template <class Spec, class Precond>
void ExpectRoundTrip(const UNetOptions& options) {
  torch::manual_seed(1);
  UNet<Spec> a(options), b(options);
  Randomize(a, 2);
  Randomize(b, 3);
  absl::StatusOr<StateDict> sd = ToEdmStateDict<Precond>(a);
  ASSERT_TRUE(sd.ok()) << sd.status();
  const std::string path = ::testing::TempDir() + "/export.pt";
  ASSERT_TRUE(WriteStateDictFile(path, *sd).ok());
  ASSERT_TRUE((LoadEdmStateDict<Precond>(Read(path), path, b).ok()));
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  for (const auto& buf : a->named_buffers()) EXPECT_TRUE(torch::equal(buf.value(), b->named_buffers()[buf.key()]));
  a->eval();
  b->eval();
  torch::Tensor x = torch::randn({3, options.in_channels(), options.img_resolution(), options.img_resolution()});
  torch::Tensor c = torch::randn({3});
  torch::Tensor labels = options.label_dim() > 0 ? torch::tensor({0, 1, 0}, torch::kInt64) : torch::Tensor();
  EXPECT_TRUE(torch::equal(a->forward(x, c, labels), b->forward(x, c, labels)));
}

TEST(EdmStateDictTest, ExportImportIsBitIdentical) {
  ExpectRoundTrip<DdpmppSpec, diffusion::VpPreconditioner>(DdpmppFixtureOptions());
  ExpectRoundTrip<NcsnppSpec, diffusion::EdmPreconditioner>(
      UNetOptions(8, 3, 3).model_channels(4).channel_mult({1, 2, 2}).num_blocks(2).attn_resolutions({4}).label_dim(2));
  ExpectRoundTrip<DdpmppSpec, diffusion::IddpmPreconditioner>(
      UNetOptions(4, 1, 1).model_channels(4).channel_mult({1, 1}).num_blocks(1).attn_resolutions({}));
}

// EDM's own outputs D(x; σ) for the fixture networks (reference.pt), from
// diffmem's UNets loaded with the fixtures' weights.
TEST(EdmStateDictTest, ImportedNetworksMatchEdmsOutputs) {
  const StateDict ref = ReadEdmFixture("reference.pt");
  const torch::Tensor x3 = *FindTensor(ref, "x3"), x2 = *FindTensor(ref, "x2");
  const torch::Tensor sigma = *FindTensor(ref, "sigma"), labels = *FindTensor(ref, "labels");

  UNet<DdpmppSpec> ddpmpp(DdpmppFixtureOptions());
  ASSERT_TRUE((LoadEdmStateDict<diffusion::VpPreconditioner>(ReadEdmFixture("ddpmpp_vp.pt"), "ddpmpp_vp.pt", ddpmpp).ok()));
  ddpmpp->eval();
  diffusion::Denoiser<diffusion::VpPreconditioner, UNet<DdpmppSpec>> vp(ddpmpp);
  torch::NoGradGuard no_grad;
  auto expect_close = [](const torch::Tensor& got, const torch::Tensor& want, const char* what) {
    const double err = (got - want).abs().max().item<double>(), scale = want.abs().max().item<double>();
    EXPECT_LT(err, 2e-6 * scale) << what << ": max |diff| " << err << " at scale " << scale;
    std::printf("%s: max |diff| %.3g, max |value| %.3g\n", what, err, scale);
    return err / scale;
  };
  expect_close(vp(x3, sigma, labels), *FindTensor(ref, "ddpmpp_vp"), "ddpmpp_vp");
  expect_close(vp(x3, sigma, torch::Tensor()), *FindTensor(ref, "ddpmpp_vp_unlabelled"), "ddpmpp_vp_unlabelled");

  absl::StatusOr<NetworkConfig> nc = InferEdmNetwork(ReadEdmFixture("ncsnpp_edm.pt"), "ncsnpp_edm.pt", "edm");
  ASSERT_TRUE(nc.ok()) << nc.status();
  UNet<NcsnppSpec> ncsnpp(nc->unet);
  ASSERT_TRUE((LoadEdmStateDict<diffusion::EdmPreconditioner>(ReadEdmFixture("ncsnpp_edm.pt"), "ncsnpp_edm.pt", ncsnpp).ok()));
  ncsnpp->eval();
  diffusion::Denoiser<diffusion::EdmPreconditioner, UNet<NcsnppSpec>> edm(ncsnpp);
  expect_close(edm(x2, sigma, torch::Tensor()), *FindTensor(ref, "ncsnpp_edm"), "ncsnpp_edm");

  // The embedding's halves matter: undo the swap and the outputs move far away.
  {
    torch::Tensor w = ddpmpp->map_layer0->weight;
    w.copy_(torch::cat({w.narrow(1, 4, 4), w.narrow(1, 0, 4)}, 1));
  }
  const torch::Tensor want = *FindTensor(ref, "ddpmpp_vp");
  EXPECT_GT((vp(x3, sigma, labels) - want).abs().max().item<double>(), 1e-2 * want.abs().max().item<double>());
}

TEST(EdmStateDictTest, WrongArchitectureNamesTheTensor) {
  const StateDict edm = ReadEdmFixture("ddpmpp_vp.pt");
  auto error = [&](const UNetOptions& o, const StateDict& sd) {
    UNet<DdpmppSpec> net(o);
    const torch::Tensor before = net->map_layer1->weight.clone();
    const absl::Status s = LoadEdmStateDict<diffusion::VpPreconditioner>(sd, "ema.pt", net);
    EXPECT_FALSE(s.ok());
    EXPECT_TRUE(torch::equal(before, net->map_layer1->weight)) << "a failed load must not change the net";
    return std::string(s.message());
  };
  std::string msg = error(DdpmppFixtureOptions().channel_mult({1, 1}), edm);
  EXPECT_EQ(msg,
            "ema.pt: tensor 'model.enc.4x4_block0.conv0.weight' has shape [16, 8, 3, 3], diffmem's ddpmpp UNet with "
            "these options expects [8, 8, 3, 3]");
  msg = error(DdpmppFixtureOptions().num_blocks(2), edm);
  EXPECT_NE(msg.find("tensor 'model.enc.8x8_block1.norm0.weight' is missing"), std::string::npos) << msg;
  msg = error(DdpmppFixtureOptions().attn_resolutions({}), edm);
  EXPECT_NE(msg.find("tensor 'model.enc.4x4_block0.norm2.weight' (shape [16]) has no place"), std::string::npos) << msg;

  StateDict partial(edm.begin(), edm.end() - 1);  // without model.dec.8x8_aux_conv.bias
  msg = error(DdpmppFixtureOptions(), partial);
  EXPECT_NE(msg.find("'model.dec.8x8_aux_conv.bias' is missing"), std::string::npos) << msg;
  StateDict other_filter = edm;
  for (auto& [name, t] : other_filter) {
    if (name == "model.dec.8x8_up.skip.resample_filter") t = torch::full({1, 1, 2, 2}, 0.3);
  }
  msg = error(DdpmppFixtureOptions(), other_filter);
  EXPECT_NE(msg.find("buffer 'model.dec.8x8_up.skip.resample_filter' differs"), std::string::npos) << msg;
  msg = error(DdpmppFixtureOptions(), StateDict{{"weight", torch::ones({2})}});
  EXPECT_NE(msg.find("not the state dict of EDM's SongUNet"), std::string::npos) << msg;
  StateDict with_nan = edm;
  with_nan[3].second = with_nan[3].second.clone();
  with_nan[3].second[0] = NAN;
  msg = error(DdpmppFixtureOptions(), with_nan);
  EXPECT_NE(msg.find("holds NaN or Inf"), std::string::npos) << msg;
  StateDict integers = edm;
  integers[3].second = integers[3].second.to(torch::kInt64);
  msg = error(DdpmppFixtureOptions(), integers);
  EXPECT_NE(msg.find("' has dtype Long, expected a floating-point type"), std::string::npos) << msg;

  // A bare SongUNet state dict (no "model.") and augmentation weights load.
  StateDict bare;
  for (const auto& [name, t] : edm) bare.emplace_back(name.substr(6), t);
  bare.emplace_back("map_augment.weight", torch::ones({8, 9}));
  UNet<DdpmppSpec> net(DdpmppFixtureOptions());
  std::vector<std::string> notes;
  ASSERT_TRUE((LoadEdmStateDict<diffusion::VpPreconditioner>(bare, "bare.pt", net, &notes).ok()));
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("map_augment.weight"), std::string::npos);
}

TEST(EdmStateDictTest, IddpmTableAndMaskedNets) {
  UNet<DdpmppSpec> net(UNetOptions(4, 1, 1).model_channels(4).channel_mult({1, 1}).num_blocks(1).attn_resolutions({}));
  absl::StatusOr<StateDict> iddpm = ToEdmStateDict<diffusion::IddpmPreconditioner>(net);
  ASSERT_TRUE(iddpm.ok());
  const torch::Tensor* u = FindTensor(*iddpm, "u");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->size(0), 1001);
  EXPECT_EQ(FindTensor(*iddpm, "model.dec.4x4_aux_conv.weight")->size(0), 2);  // mean and variance halves
  // iDDPM's dict is not a VP net's (the table has no place), nor the reverse.
  EXPECT_FALSE((LoadEdmStateDict<diffusion::VpPreconditioner>(*iddpm, "iddpm.pt", net).ok()));
  absl::StatusOr<StateDict> vp = ToEdmStateDict<diffusion::VpPreconditioner>(net);
  EXPECT_FALSE((LoadEdmStateDict<diffusion::IddpmPreconditioner>(*vp, "vp.pt", net).ok()));
  // EDM's own table (float32 recursion, reference.pt) is accepted, 1% more is not.
  StateDict edm_table = *iddpm;
  for (auto& [name, t] : edm_table) {
    if (name == "u") t = *FindTensor(ReadEdmFixture("reference.pt"), "iddpm_u");
  }
  EXPECT_TRUE((LoadEdmStateDict<diffusion::IddpmPreconditioner>(edm_table, "iddpm.pt", net).ok()));
  StateDict other_table = *iddpm;
  for (auto& [name, t] : other_table) {
    if (name == "u") t = t * 1.01;
  }
  const absl::Status s = LoadEdmStateDict<diffusion::IddpmPreconditioner>(other_table, "iddpm.pt", net);
  EXPECT_NE(s.message().find("iDDPM noise-level table"), absl::string_view::npos) << s;

  // A bare SongUNet (no wrapper) has no table: a bare iDDPM export loads as one.
  absl::StatusOr<StateDict> bare = ToEdmStateDict<diffusion::IddpmPreconditioner>(net, "");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(FindTensor(*bare, "u"), nullptr);
  EXPECT_TRUE((LoadEdmStateDict<diffusion::IddpmPreconditioner>(*bare, "bare.pt", net).ok()));

  UNet<DdpmppSpec> masked(
      UNetOptions(4, 1, 1).model_channels(4).channel_mult({1, 1}).num_blocks(1).attn_resolutions({}).skip_mask(
          {true, false, true, true}));
  EXPECT_FALSE((ToEdmStateDict<diffusion::VpPreconditioner>(masked).ok()));
}

}  // namespace
}  // namespace networks
}  // namespace diffmem
