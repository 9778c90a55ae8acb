// End-to-end test of EDM interoperability through the tools:
//   - //tools:import_edm on a state dict written by EDM's code (the fixture),
//     then //tools:sample --noise=edm gives EDM's images for those seeds
//     (EDM's own sampler output, sampler.pt, turned into pixels as
//     generate.py does), and //tools:mem_ratio scores the samples;
//   - a network trained by //tools:train, exported by //tools:export_edm and
//     imported again samples byte-identical PNGs;
//   - bad input fails with a message naming the problem and writes nothing.
// Binary paths: train, sample, mem_ratio, import_edm, export_edm.

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "data/png.h"
#include "gtest/gtest.h"
#include "networks/state_dict_file.h"
#include "nlohmann/json.hpp"
#include "testing/edm_fixtures.h"

namespace {

namespace fs = std::filesystem;

std::string g_train, g_sample, g_mem_ratio, g_import, g_export;  // set by main

struct Result {
  int code;
  std::string out, err;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result RunTool(const std::string& tool, const std::string& flags) {
  const std::string out_file = ::testing::TempDir() + "/stdout.txt", err_file = ::testing::TempDir() + "/stderr.txt";
  const std::string cmd = absl::StrCat(tool, " --threads=1 ", flags, " >", out_file, " 2>", err_file);
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadAll(out_file), ReadAll(err_file)};
}

TEST(EdmInteropTest, ImportSampleLikeEdmAndScore) {
  const std::string dir = ::testing::TempDir() + "/edm";
  fs::remove_all(dir);
  const std::string run = dir + "/run";
  Result r = RunTool(g_import, absl::StrCat("--state_dict=", diffmem::testing_edm::EdmFixturePath("ddpmpp_vp.pt"),
                                            " --precond=vp --out=", run));
  ASSERT_EQ(r.code, 0) << r.err;
  // As many parameters as EDM's network has (its tensors less the resampling-filter buffers).
  absl::StatusOr<diffmem::networks::StateDict> edm =
      diffmem::networks::ReadStateDictFile(diffmem::testing_edm::EdmFixturePath("ddpmpp_vp.pt"));
  ASSERT_TRUE(edm.ok()) << edm.status();
  int64_t edm_parameters = 0;
  for (const auto& [name, t] : *edm) {
    if (name.find("resample_filter") == std::string::npos) edm_parameters += t.numel();
  }
  EXPECT_NE(r.err.find(absl::StrCat("ddpmpp/vp UNet, ", edm_parameters, " parameters")), std::string::npos) << r.err;
  EXPECT_EQ(nlohmann::json::parse(ReadAll(run + "/config.json"))["parameters"], edm_parameters);
  const nlohmann::json config = nlohmann::json::parse(ReadAll(run + "/config.json"));
  EXPECT_EQ(config["network"]["unet"]["channel_mult"], nlohmann::json({1, 2}));
  EXPECT_EQ(config["network"]["unet"]["label_dim"], 3);
  EXPECT_NE(config["imported"]["weights"].get<std::string>().find("both"), std::string::npos);

  // EDM's images for seeds 0-3 (edm_sampler in generate.py on the CPU), as generate.py writes pixels.
  absl::StatusOr<diffmem::networks::StateDict> ref =
      diffmem::networks::ReadStateDictFile(diffmem::testing_edm::EdmFixturePath("sampler.pt"));
  ASSERT_TRUE(ref.ok()) << ref.status();
  // Deterministic sampling: diffmem's draws ask for EDM's random class per
  // seed too, so both conventions give EDM's images. With churn on some steps
  // only, EDM also draws noise on the steps that do not churn: only
  // --noise=edm follows it.
  const std::string churn = " --S_churn=10 --S_min=0.05 --S_max=10 --S_noise=1.003";
  int differing_with_diffmem_noise = 0;
  for (const char* kind : {"deterministic", "churn"}) {
    const torch::Tensor edm_pixels =
        (*diffmem::networks::FindTensor(*ref, kind) * 127.5 + 128).clamp(0, 255).to(torch::kUInt8);
    for (const char* noise : {"edm", "diffmem"}) {
      const std::string samples = absl::StrCat(dir, "/samples_", kind, "_", noise);
      r = RunTool(g_sample, absl::StrCat("--checkpoint=", run, " --seeds=0-3 --noise=", noise,
                                         std::string(kind) == "churn" ? churn : "", " --out=", samples));
      ASSERT_EQ(r.code, 0) << r.err;
      for (int seed = 0; seed < 4; ++seed) {
        absl::StatusOr<torch::Tensor> png = diffmem::data::ReadPng(absl::StrCat(samples, "/00000", seed, ".png"));
        ASSERT_TRUE(png.ok()) << png.status();
        // At most one level apart (rounding of values within float error of a .5 boundary).
        const int64_t diff = (png->to(torch::kInt32) - edm_pixels[seed].to(torch::kInt32)).abs().max().item<int64_t>();
        if (std::string(noise) == "edm" || std::string(kind) == "deterministic") {
          EXPECT_LE(diff, 1) << kind << " " << noise << " seed " << seed;
        } else if (diff > 1) {
          ++differing_with_diffmem_noise;
        }
      }
    }
  }
  EXPECT_GT(differing_with_diffmem_noise, 0);

  // The same network as net.state_dict() returns it (an OrderedDict with
  // _metadata), saved as is: imported as it is, it samples the same images.
  const std::string as_is = dir + "/run_state_dict";
  r = RunTool(g_import, absl::StrCat("--state_dict=testing/fixtures/torch_save/ddpmpp_vp_state_dict.pt --precond=vp",
                                     " --out=", as_is));
  ASSERT_EQ(r.code, 0) << r.err;
  r = RunTool(g_sample, absl::StrCat("--checkpoint=", as_is, " --seeds=0-3 --noise=edm --out=", as_is, "/samples"));
  ASSERT_EQ(r.code, 0) << r.err;
  for (int seed = 0; seed < 4; ++seed) {
    EXPECT_EQ(ReadAll(absl::StrCat(as_is, "/samples/00000", seed, ".png")),
              ReadAll(absl::StrCat(dir, "/samples_deterministic_edm/00000", seed, ".png")))
        << "seed " << seed;
  }

  // mem_ratio accepts the samples: against themselves every sample is memorized.
  fs::create_directories(dir + "/train");
  for (int seed = 0; seed < 4; ++seed) {
    fs::copy_file(absl::StrCat(dir, "/samples_deterministic_edm/00000", seed, ".png"), absl::StrCat(dir, "/train/", seed, ".png"));
  }
  r = RunTool(g_mem_ratio,
              absl::StrCat("--samples=", dir, "/samples_deterministic_edm --data=png:", dir, "/train --n=0 --out=", dir, "/ratio"));
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json report = nlohmann::json::parse(ReadAll(dir + "/ratio/report.json"));
  EXPECT_EQ(report["num_samples"], 4);
  EXPECT_EQ(report["ratio"], 1.0);
}

TEST(EdmInteropTest, ExportImportSamplesIdentically) {
  const std::string dir = ::testing::TempDir() + "/roundtrip";
  fs::remove_all(dir);
  Result r = RunTool(g_train, absl::StrCat("--data=fashion-mnist:t10k --n=10 --subset=balanced --labels=true --pad=2 "
                                           "--resolution=8 --channels=8 --channel_mult=1,2 --blocks=1 --attn=4 "
                                           "--dropout=0 --precond=edm --batch=4 --lr=1e-3 --lr_warmup_epochs=0 --ema_beta=0.9 --steps=3 --out=",
                                           dir, "/trained"));
  ASSERT_EQ(r.code, 0) << r.err;
  r = RunTool(g_export, absl::StrCat("--checkpoint=", dir, "/trained --weights=raw --out=", dir, "/net.pt"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("net = networks.EDMPrecond(img_resolution=8, img_channels=1, label_dim=10,"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(absl::StrCat("net.load_state_dict(torch.load('", dir, "/net.pt'))")), std::string::npos);
  r = RunTool(g_import, absl::StrCat("--state_dict=", dir, "/net.pt --precond=edm --out=", dir, "/imported"));
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string flags = " --seeds=0-5 --steps=4 --batch=4 --out=";
  r = RunTool(g_sample, absl::StrCat("--checkpoint=", dir, "/trained --weights=raw", flags, dir, "/a"));
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* weights : {"raw", "ema"}) {
    const std::string b = absl::StrCat(dir, "/b_", weights);
    r = RunTool(g_sample, absl::StrCat("--checkpoint=", dir, "/imported --weights=", weights, flags, b));
    ASSERT_EQ(r.code, 0) << r.err;
    for (int seed = 0; seed < 6; ++seed) {
      const std::string name = absl::StrCat("/00000", seed, ".png");
      EXPECT_EQ(ReadAll(b + name), ReadAll(dir + "/a" + name)) << weights << name;
    }
  }
  // The EMA of the trained run differs from its raw weights, so the check above has power.
  r = RunTool(g_sample, absl::StrCat("--checkpoint=", dir, "/trained --weights=ema", flags, dir, "/c"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(ReadAll(dir + "/c/000000.png"), ReadAll(dir + "/a/000000.png"));
}

TEST(EdmInteropTest, BadInputFailsCleanlyAndWritesNothing) {
  const std::string dir = ::testing::TempDir() + "/bad";
  fs::remove_all(dir);
  fs::create_directories(dir + "/taken");
  std::ofstream(dir + "/taken/config.json") << "{}";
  std::ofstream(dir + "/junk.pt") << "not a zip";
  const std::string fixture = diffmem::testing_edm::EdmFixturePath("ddpmpp_vp.pt");
  struct Case {
    std::string tool, flags, message;
  };
  const Case cases[] = {
      {g_import, absl::StrCat("--state_dict=", fixture, " --out=", dir, "/i1"), "--precond: required"},
      {g_import, absl::StrCat("--state_dict=", fixture, " --precond=vp --channel_mult=1,1 --out=", dir, "/i2"),
       "tensor 'model.enc.4x4_block0.conv0.weight' has shape [16, 8, 3, 3], diffmem's ddpmpp UNet with these options "
       "expects [8, 8, 3, 3]"},
      {g_import,
       absl::StrCat("--state_dict=", diffmem::testing_edm::EdmFixturePath("skip_encoder.pt"),
                    " --precond=vp --out=", dir, "/i3"),
       "'skip' encoder"},
      {g_import, absl::StrCat("--state_dict=", dir, "/junk.pt --precond=vp --out=", dir, "/i4"), "not a zip archive"},
      {g_import,
       absl::StrCat("--state_dict=", diffmem::testing_edm::EdmFixturePath("ordered_dict.pt"),
                    " --precond=vp --out=", dir, "/i5"),
       "ordered_dict.pt: no 'model.map_layer0.weight' or 'map_layer0.weight': not the state dict of EDM's SongUNet"},
      {g_import, absl::StrCat("--state_dict=testing/fixtures/torch_save/list.pt --precond=vp --out=", dir, "/i7"),
       "list.pt: holds a list, expected a dict from names to tensors"},
      {g_import, absl::StrCat("--state_dict=", fixture, " --precond=vp --out=", dir, "/taken"),
       "not an empty directory"},
      {g_import, absl::StrCat("--state_dict=", fixture, " --precond=vpp --out=", dir, "/i6"), "unknown preconditioner"},
      {g_export, absl::StrCat("--checkpoint=", dir, "/junk.pt --out=", dir, "/e1.pt"), "junk.pt"},
      {g_export, absl::StrCat("--checkpoint=", dir, "/junk.pt --weights=best --out=", dir, "/e2.pt"), "--weights"},
      {g_sample, absl::StrCat("--checkpoint=", dir, "/junk.pt --noise=cuda --out=", dir, "/s1"), "--noise"},
  };
  for (const Case& c : cases) {
    Result r = RunTool(c.tool, c.flags);
    EXPECT_NE(r.code, 0) << c.flags;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.flags << "\n" << r.err;
  }
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    ++entries;
    EXPECT_TRUE(e.path().filename() == "junk.pt" || e.path().filename() == "taken") << e.path();
  }
  EXPECT_EQ(entries, 2);
  EXPECT_EQ(ReadAll(dir + "/taken/config.json"), "{}");
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 6) {
    std::fprintf(stderr, "usage: edm_interop_test TRAIN SAMPLE MEM_RATIO IMPORT_EDM EXPORT_EDM\n");
    return 2;
  }
  g_train = argv[1];
  g_sample = argv[2];
  g_mem_ratio = argv[3];
  g_import = argv[4];
  g_export = argv[5];
  return RUN_ALL_TESTS();
}
