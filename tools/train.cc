// train: trains a diffusion UNet on a data set into a run directory.
//
//   bazel run //tools:train -- --data=fashion-mnist --n=32 --resolution=8
//       --channels=32 --channel_mult=1,2 --blocks=2 --attn= --dropout=0
//       --steps=1500 --lr=1e-3 --ema_beta=0.99 --out=/tmp/run_n32
//   bazel run //tools:train -- ... --out=/tmp/run_n32 --resume     # continue where it stopped
//
// The run directory gets config.json, loss.csv, checkpoint.pt and
// result.json (training/train_network.h); //tools:sample reads the checkpoint.
//
// Data parallel (--batch stays the global batch, divided among the ranks):
//   train ... --nproc=2                         # 2 ranks on this machine (re-executes itself)
//   torchrun --nproc-per-node=8 --no-python train ...   # or any launcher setting RANK, WORLD_SIZE, ...
//   srun -n 16 train ...                        # Slurm: SLURM_PROCID, SLURM_NTASKS, SLURM_JOB_NODELIST
// Ranks meet through c10d (tools/data_parallel.h); rank 0 alone writes.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/data_factors.h"
#include "data/read_dataset.h"
#include "networks/network.h"
#include "parallel/replicas.h"
#include "tools/data_flags.h"
#include "tools/data_parallel.h"
#include "tools/network_flags.h"
#include "tools/tool_main.h"
#include "tools/train_flags.h"
#include "training/paper_recipe.h"
#include "training/run_dir.h"
#include "training/train_options.h"
#include "util/interrupt.h"
#include "training/train_network.h"

ABSL_FLAG(std::string, out, "", "run directory (required; must not hold a run unless --resume)");
ABSL_FLAG(bool, resume, false, "continue the run in --out from its checkpoint (bit for bit)");
ABSL_FLAG(bool, dry_run, false,
          "print the resolved configuration (defaults + flags: network, training, data, parameter count, "
          "steps) as JSON and exit without training or writing anything");

namespace {

using diffmem::tools::CheckFlag;

absl::Status Run() {
  namespace networks = diffmem::networks;
  namespace training = diffmem::training;
  const std::string out = absl::GetFlag(FLAGS_out);
  if (auto s = CheckFlag(!out.empty(), "out", "a run directory is required"); !s.ok()) return s;
  // Train's defaults are the paper authors' CIFAR-10 recipe (training/paper_recipe.h), then the flags given.
  training::TrainOptions options = training::PaperTraining();
  if (absl::Status s = diffmem::tools::OverlayTrainingFlags(options); !s.ok()) return s;
  if (absl::Status s = training::ValidateTrainOptions(options); !s.ok()) return s;
  networks::NetworkConfig network = training::PaperNetwork();
  if (absl::Status s = diffmem::tools::OverlayNetworkFlags(network); !s.ok()) return s;
  std::string spec = diffmem::tools::kDefaultDataSpec;
  diffmem::data::DataFactors factors = diffmem::tools::ToolDataDefaults();
  diffmem::tools::OverlayDataFlags(spec, factors);
  absl::StatusOr<diffmem::data::Dataset> ds = diffmem::data::LoadDataset(spec, factors);
  if (!ds.ok()) return ds.status();
  if (absl::Status s = diffmem::tools::FitNetworkToData(network, *ds); !s.ok()) return s;
  // Everything a start can refuse is refused here, before --out is touched;
  // a dry run checks exactly this.
  if (absl::Status s = training::CheckDatasetForNetwork(*ds, network); !s.ok()) return s;
  if (absl::StatusOr<torch::Device> d = training::ResolveDevice(options.device); !d.ok()) return d.status();
  if (absl::Status s = diffmem::tools::CheckDataParallelFlags(options.batch_size); !s.ok()) return s;
  if (!absl::GetFlag(FLAGS_resume)) {
    if (absl::Status s = training::CheckNoRunIn(out); !s.ok()) return s;
  }

  if (absl::GetFlag(FLAGS_dry_run)) {
    absl::StatusOr<int64_t> parameters = networks::CountNetworkParameters(network);
    if (!parameters.ok()) return parameters.status();
    const nlohmann::json j = {{"out", out},
                              {"network", networks::NetworkConfigToJson(network)},
                              {"training", training::TrainOptionsToJson(options)},
                              {"data", diffmem::data::DataSourceToJson(spec, factors)},
                              {"dataset", training::DatasetSummaryJson(*ds)},
                              {"parameters", *parameters},
                              {"total_steps", training::TotalSteps(options, ds->size())}};
    std::printf("%s\n", j.dump(2).c_str());
    return absl::OkStatus();
  }

  // Data parallel: launch the ranks here, or join the job a launcher started.
  absl::StatusOr<diffmem::tools::DataParallelJob> job =
      diffmem::tools::JoinDataParallelJob("train", options.device, options.batch_size);
  if (!job.ok()) return job.status();
  if (job->launched) return absl::OkStatus();
  const diffmem::parallel::Replicas& replicas = job->replicas;
  // Ctrl-C or SIGTERM: the trainer stops after the current step with its checkpoint written.
  diffmem::util::InstallInterruptHandlers("train");

  training::TrainCallbacks callbacks;
  callbacks.progress = [](const training::TrainProgress& p) {
    std::fprintf(stderr, "train: %s\n", training::FormatProgress(p).c_str());
  };
  callbacks.started = [&](const training::TrainStart& st) {
    if (!st.device_note.empty()) std::fprintf(stderr, "train: %s\n", st.device_note.c_str());
    std::fprintf(stderr, "train: %s/%s UNet, %lld parameters, %lld images %lldx%lldx%lld%s, device %s, threads %d\n",
                 network.spec.c_str(), network.precond.c_str(), static_cast<long long>(st.parameters),
                 static_cast<long long>(ds->size()), static_cast<long long>(ds->channels()),
                 static_cast<long long>(ds->height()), static_cast<long long>(ds->width()),
                 network.unet.label_dim() > 0 ? absl::StrCat(", ", network.unet.label_dim(), " labels").c_str() : "",
                 st.device.str().c_str(), diffmem::tools::ToolThreads());
    if (st.step > 0) {
      std::fprintf(stderr, "train: resuming at step %lld of %lld\n", static_cast<long long>(st.step),
                   static_cast<long long>(st.total_steps));
    }
  };
  absl::StatusOr<training::TrainResult> r = training::TrainNetwork(network, *ds, options, out, absl::GetFlag(FLAGS_resume),
                                                       callbacks, diffmem::data::DataSourceToJson(spec, factors),
                                                       replicas);
  if (!r.ok() && diffmem::util::InterruptedBy(r.status()) != 0) {
    return diffmem::util::AnnotateStatus(diffmem::tools::WithRank(replicas, r.status()), "",
                                         "; continue the run with the same flags and --resume");
  }
  if (!r.ok()) return diffmem::tools::WithRank(replicas, r.status());
  if (!replicas.writes()) return absl::OkStatus();
  std::fprintf(stderr, "train: %s %lld steps (%.1f kimg), last loss %.4f, %.1f s; checkpoint %s\n",
               r->stopped_early ? "stopped after" : "done,", static_cast<long long>(r->steps), r->nimg / 1000.0,
               r->last_loss, r->wall_s, training::RunCheckpointPath(out).c_str());
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  return diffmem::tools::ToolMain(argc, argv,
                                  "Trains a diffusion UNet (DDPM++/NCSN++, EDM/VP/VE/iDDPM) into a run directory. Flags not\n"
                                  "given keep the paper authors' CIFAR-10 recipe (DDPM++, VP, 128 channels, 2 blocks, batch\n"
                                  "512, lr 2e-4 with a 200-epoch warm-up, 40k epochs, data-ratio EMA, seed 1024; --dry_run\n"
                                  "prints it); the data default to all of Fashion-MNIST.\n"
                                  "  train --data=fashion-mnist --n=1000 --resolution=16 --steps=20000 --out=runs/n1k\n"
                                  "  train ... --out=runs/n1k --resume",
                                  Run);
}
