// estimate_emm: the main job. Estimates EMM (effective model memorization),
// the largest training-set size N at which a trained diffusion model still
// memorizes (memorization ratio >= 1 - epsilon), by geometric bracketing of N
// and bisection in log N over real training runs, each stopped early once
// its memorization ratio has passed the threshold with confidence or
// plateaued. Resumable: rerun the same command after a kill.
//
//   bazel run //tools:estimate_emm -- --out=/tmp/emm_study          # preset fashion_cpu (~20 min, 2 cores)
//   bazel run //tools:estimate_emm -- --out=/tmp/s --vary=resolution=8,16
//   bazel run //tools:estimate_emm -- --out=/tmp/s --plan=/tmp/s/plan.txt   # cluster: next wave of runs
//   bazel run //tools:estimate_emm -- --out=/tmp/s --collect                # report from finished runs
//
// Writes OUT/report.json, OUT/ratio_vs_n.png, OUT/curves.png, and one run
// directory per N under OUT/runs/ (usable with //tools:sample).

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "data/atomic_file.h"
#include "diffusion/network.h"
#include "memorization/emm_plot.h"
#include "memorization/emm_report.h"
#include "memorization/emm_study.h"
#include "tools/data_flags.h"
#include "tools/train_flags.h"
#include "tools/tool_main.h"

// Study.
ABSL_FLAG(std::string, out, "", "study directory (required; created; rerun the same command to continue)");
ABSL_FLAG(std::string, preset, "fashion_cpu",
          "fashion_cpu (default: small UNet on 8x8 Fashion-MNIST, ~20 min on 2 cores), paper_cifar10 (the "
          "paper's CIFAR-10 setup, for GPUs) or none; explicit flags override the preset");
ABSL_FLAG(std::string, vary, "",
          "FACTOR=v1,v2,...: one study per value, then an EMM-vs-factor table and plot. Factors: resolution, "
          "classes, mix_fraction, channels, blocks, embedding, skip_mask, batch (lr scaled), weight_decay, ema, "
          "lr, dropout, steps, labels (none|true|random-C|unique)");
ABSL_FLAG(std::string, plan, "",
          "write the next wave of training runs to this file, one shell command per line (for a job array), "
          "and exit; run them, then --plan again until it writes nothing, then --collect");
ABSL_FLAG(bool, collect, false, "build the report from the finished run directories and exit");
ABSL_FLAG(int64_t, run_n, 0, "(used by --plan's commands) train and measure the run at this N of the study in --out");
// Data: --data --subset --classes --mix_data --mix_fraction --pad --resolution --labels
// --label_classes --data_seed come from tools/data_flags.h (shared with //tools:train).
// Network and training: --arch --precond --channels --channel_mult --blocks --attn --embedding
// --skip_mask --dropout --batch --optimizer --lr --lr_warmup_kimg --weight_decay --grad_clip --steps
// --kimg --epochs --ema_beta --ema_halflife_kimg --ema_rampup_ratio --seed --checkpoint_every
// --log_every --device come from tools/train_flags.h (shared with //tools:train); a run's
// checkpoints are written at least at every probe.
// Evaluation.
ABSL_FLAG(double, epsilon, 0.1, "a model memorizes at N when its ratio >= 1 - epsilon");
ABSL_FLAG(double, ratio_threshold, 1.0 / 3.0, "a sample is memorized when d(x,NN1)/d(x,NN2) < this");
ABSL_FLAG(std::string, metric, "l2", "distance: l2, sql2, l1, linf, cosine");
ABSL_FLAG(int64_t, samples, 256, "samples per final measurement of a run");
ABSL_FLAG(int64_t, probe_samples, 64, "samples per periodic probe during training");
ABSL_FLAG(int64_t, probe_every, 250, "steps between probes (0: none, no early stopping)");
ABSL_FLAG(std::string, weights, "raw", "weights scored: raw or ema");
ABSL_FLAG(int, sampler_steps, 18, "EDM Heun sampler steps");
ABSL_FLAG(uint64_t, sample_seed, 0, "first seed of the generated samples");
ABSL_FLAG(bool, optimum_reference, true, "also measure the theoretical optimum's ratio at each N");
ABSL_FLAG(bool, early_stop, true, "stop a run when its ratio passed 1 - epsilon with confidence or plateaued");
ABSL_FLAG(double, early_stop_min_fraction, 0.3, "no plateau verdict before this fraction of the duration");
ABSL_FLAG(int, early_stop_patience, 3, "probes without a gain of --early_stop_min_improvement = plateau");
ABSL_FLAG(double, early_stop_min_improvement, 0.05, "smallest ratio gain that counts");
// Search.
ABSL_FLAG(int64_t, n_min, 10, "smallest N tried");
ABSL_FLAG(int64_t, n_max, 50000, "largest N tried");
ABSL_FLAG(int64_t, n_start, 0, "first N (0: --n_min)");
ABSL_FLAG(int64_t, granularity, 10, "every N is a multiple of this (the class count for balanced subsets)");
ABSL_FLAG(double, growth, 2.0, "bracketing factor");
ABSL_FLAG(double, precision, 1.1, "bisection stops when N_hi / N_lo <= this");
ABSL_FLAG(int, max_runs, 8, "budget of training runs per study");
ABSL_FLAG(std::string, extra_n, "", "N values measured first in addition to the search (comma list), e.g. n_max to show the ratio far above EMM");
ABSL_FLAG(int, parallel, 1, "runs per wave (what --plan lists at once; local runs go one after another)");

namespace {

using diffmem::memorization::EmmReport;
using diffmem::memorization::EmmStudyConfig;
using diffmem::tools::CheckFlag;

// The default study: Fashion-MNIST padded to 32x32 and averaged to 8x8, a
// 2-level 32-channel DDPM++ UNet, fixed step counts, raw weights scored.
EmmStudyConfig FashionCpuPreset() {
  EmmStudyConfig c;
  c.data_spec = "fashion-mnist";
  c.data.subset = "balanced";
  c.data.pad = 2;
  c.data.resolution = 8;
  c.data.labels = "none";
  c.network.spec = "ddpmpp";
  c.network.precond = "edm";
  c.network.unet = diffmem::diffusion::UNetOptions(8, 1, 1)
                       .model_channels(32)
                       .channel_mult({1, 2})
                       .num_blocks(1)
                       .attn_resolutions({})
                       .dropout(0);
  c.train.batch_size = 64;
  c.train.lr = 1e-3;
  c.train.steps = 1200;  // the longest a run trains; early stopping usually ends it sooner
  c.train.ema_beta = 0.99;
  c.train.checkpoint_every = 1000;  // capped at probe_every by the study
  c.train.log_every = 100;
  c.samples = 128;
  c.probe_samples = 64;  // 32 could never "pass": the Wilson low of 32/32 is 0.893 < 0.9
  c.probe_every = 150;
  c.weights = "raw";
  c.early_stop_min_fraction = 0.5;
  c.search.n_min = 10;
  c.search.n_start = 10;
  c.search.n_max = 320;
  c.search.granularity = 10;
  c.search.precision = 1.25;
  c.search.max_runs = 6;
  c.search.extra_n = {320};  // shows the ratio far above EMM; then the search starts at 10
  return c;
}

// The paper's CIFAR-10 configuration (Gu et al. 2023; EDM's DDPM++ with VP
// preconditioning): for GPU users, not run in CI. The duration (40k epochs)
// and EMA half-life (N/100 kimg) scale with N; here they are fixed at the
// values for N = 1k: pass --epochs=40000 and --ema_halflife_kimg per study.
EmmStudyConfig PaperCifar10Preset() {
  EmmStudyConfig c;
  c.data_spec = "cifar10";
  c.data.subset = "balanced";
  c.data.labels = "none";
  c.network.spec = "ddpmpp";
  c.network.precond = "vp";
  c.network.unet = diffmem::diffusion::UNetOptions(32, 3, 3)
                       .model_channels(128)
                       .channel_mult({2, 2, 2})
                       .num_blocks(2)
                       .attn_resolutions({16})
                       .dropout(0.13);
  c.train.batch_size = 512;
  c.train.lr = 2e-4;
  c.train.epochs = 40000;
  c.train.ema_halflife_kimg = 10;  // N/100 kimg at N = 1k
  c.train.ema_rampup_ratio = 0;
  c.train.checkpoint_every = 5000;
  c.samples = 10000;
  c.probe_samples = 256;
  c.probe_every = 5000;
  c.weights = "ema";
  c.search.n_min = 500;
  c.search.n_start = 1000;
  c.search.n_max = 64000;
  c.search.granularity = 10;
  c.search.max_runs = 8;
  return c;
}

// Whether --name (or --noname for a bool) was on the command line: read
// from /proc/self/cmdline, since this abseil keeps that bit private.
bool Specified(const std::string& name) {
  static const std::vector<std::string> given = [] {
    std::vector<std::string> names;
    absl::StatusOr<std::string> cmdline = diffmem::data::ReadFileToString("/proc/self/cmdline");
    if (!cmdline.ok()) return names;
    for (absl::string_view arg : absl::StrSplit(*cmdline, '\0', absl::SkipEmpty())) {
      if (arg == "--") break;
      if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) continue;
      names.emplace_back(arg.substr(0, arg.find('=')));
    }
    return names;
  }();
  for (const std::string& g : given) {
    if (g == name || g == "no" + name) return true;
  }
  return false;
}

// Preset, then every flag given on the command line.
absl::StatusOr<EmmStudyConfig> ConfigFromFlags() {
  const std::string preset = absl::GetFlag(FLAGS_preset);
  EmmStudyConfig c;
  if (preset == "fashion_cpu") {
    c = FashionCpuPreset();
  } else if (preset == "paper_cifar10") {
    c = PaperCifar10Preset();
  } else if (preset != "none") {
    return absl::InvalidArgumentError(absl::StrCat("--preset: '", preset, "': expected fashion_cpu, paper_cifar10 or none"));
  }
  // With --preset=none every flag counts (its default included).
  auto given = [&](const char* name) { return preset == "none" || Specified(name); };
#define DIFFMEM_FLAG_TO(name, field) \
  if (given(#name)) field = absl::GetFlag(FLAGS_##name)
  DIFFMEM_FLAG_TO(data, c.data_spec);
  DIFFMEM_FLAG_TO(subset, c.data.subset);
  DIFFMEM_FLAG_TO(classes, c.data.classes);
  DIFFMEM_FLAG_TO(mix_data, c.data.mix_data);
  DIFFMEM_FLAG_TO(mix_fraction, c.data.mix_fraction);
  DIFFMEM_FLAG_TO(pad, c.data.pad);
  DIFFMEM_FLAG_TO(resolution, c.data.resolution);
  DIFFMEM_FLAG_TO(labels, c.data.labels);
  DIFFMEM_FLAG_TO(label_classes, c.data.label_classes);
  DIFFMEM_FLAG_TO(data_seed, c.data.seed);
  DIFFMEM_FLAG_TO(arch, c.network.spec);
  DIFFMEM_FLAG_TO(precond, c.network.precond);
  DIFFMEM_FLAG_TO(batch, c.train.batch_size);
  DIFFMEM_FLAG_TO(optimizer, c.train.optimizer);
  DIFFMEM_FLAG_TO(lr, c.train.lr);
  DIFFMEM_FLAG_TO(lr_warmup_kimg, c.train.lr_warmup_kimg);
  DIFFMEM_FLAG_TO(weight_decay, c.train.weight_decay);
  DIFFMEM_FLAG_TO(grad_clip, c.train.grad_clip);
  DIFFMEM_FLAG_TO(ema_beta, c.train.ema_beta);
  DIFFMEM_FLAG_TO(ema_halflife_kimg, c.train.ema_halflife_kimg);
  DIFFMEM_FLAG_TO(ema_rampup_ratio, c.train.ema_rampup_ratio);
  DIFFMEM_FLAG_TO(checkpoint_every, c.train.checkpoint_every);
  DIFFMEM_FLAG_TO(seed, c.train.seed);
  DIFFMEM_FLAG_TO(device, c.train.device);
  DIFFMEM_FLAG_TO(log_every, c.train.log_every);
  DIFFMEM_FLAG_TO(ratio_threshold, c.ratio_threshold);
  DIFFMEM_FLAG_TO(metric, c.metric);
  DIFFMEM_FLAG_TO(samples, c.samples);
  DIFFMEM_FLAG_TO(probe_samples, c.probe_samples);
  DIFFMEM_FLAG_TO(probe_every, c.probe_every);
  DIFFMEM_FLAG_TO(weights, c.weights);
  DIFFMEM_FLAG_TO(sampler_steps, c.sampler_steps);
  DIFFMEM_FLAG_TO(sample_seed, c.sample_seed);
  DIFFMEM_FLAG_TO(optimum_reference, c.optimum_reference);
  DIFFMEM_FLAG_TO(early_stop, c.early_stop);
  DIFFMEM_FLAG_TO(early_stop_min_fraction, c.early_stop_min_fraction);
  DIFFMEM_FLAG_TO(early_stop_patience, c.early_stop_patience);
  DIFFMEM_FLAG_TO(early_stop_min_improvement, c.early_stop_min_improvement);
  DIFFMEM_FLAG_TO(epsilon, c.search.epsilon);
  DIFFMEM_FLAG_TO(n_min, c.search.n_min);
  DIFFMEM_FLAG_TO(n_max, c.search.n_max);
  DIFFMEM_FLAG_TO(n_start, c.search.n_start);
  DIFFMEM_FLAG_TO(granularity, c.search.granularity);
  DIFFMEM_FLAG_TO(growth, c.search.growth);
  DIFFMEM_FLAG_TO(precision, c.search.precision);
  DIFFMEM_FLAG_TO(max_runs, c.search.max_runs);
  DIFFMEM_FLAG_TO(parallel, c.search.parallel);
#undef DIFFMEM_FLAG_TO
  if (given("extra_n")) {
    auto v = diffmem::diffusion::ParseIntList(absl::GetFlag(FLAGS_extra_n), "--extra_n");
    if (!v.ok()) return v.status();
    c.search.extra_n = *v;
  }
  // A duration flag replaces the preset's duration.
  if (given("steps") || given("kimg") || given("epochs")) {
    c.train.steps = absl::GetFlag(FLAGS_steps);
    c.train.kimg = absl::GetFlag(FLAGS_kimg);
    c.train.epochs = absl::GetFlag(FLAGS_epochs);
  }
  diffmem::diffusion::UNetOptions& u = c.network.unet;
  if (given("channels")) u.model_channels(absl::GetFlag(FLAGS_channels));
  if (given("blocks")) u.num_blocks(absl::GetFlag(FLAGS_blocks));
  if (given("dropout")) u.dropout(absl::GetFlag(FLAGS_dropout));
  if (given("channel_mult")) {
    auto v = diffmem::diffusion::ParseIntList(absl::GetFlag(FLAGS_channel_mult), "--channel_mult");
    if (!v.ok()) return v.status();
    u.channel_mult(*v);
  }
  if (given("attn")) {
    auto v = diffmem::diffusion::ParseIntList(absl::GetFlag(FLAGS_attn), "--attn");
    if (!v.ok()) return v.status();
    u.attn_resolutions(*v);
  }
  if (given("embedding")) {
    auto e = diffmem::diffusion::ParseNoiseEmbedding(absl::GetFlag(FLAGS_embedding));
    if (!e.ok()) return e.status();
    u.embedding(*e);
  }
  if (given("skip_mask")) {
    auto m = diffmem::diffusion::ParseSkipMask(absl::GetFlag(FLAGS_skip_mask));
    if (!m.ok()) return m.status();
    u.skip_mask(*m);
  }
  if (absl::Status s = diffmem::memorization::ValidateEmmStudyConfig(c); !s.ok()) return s;
  return c;
}

// Rounds x up to a multiple of q.
int64_t RoundUp(int64_t x, int64_t q) { return (x + q - 1) / q * q; }

// One factor of --vary set to `value`.
absl::Status ApplyFactor(EmmStudyConfig& c, const std::string& factor, const std::string& value) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("--vary: ", factor, "=", value, ": ", why));
  };
  int64_t i = 0;
  double d = 0;
  const bool is_int = absl::SimpleAtoi(value, &i), is_num = absl::SimpleAtod(value, &d);
  diffmem::diffusion::UNetOptions& u = c.network.unet;
  if (factor == "resolution") {
    if (!is_int || i < 1) return bad("expected a positive integer");
    c.data.resolution = i;
  } else if (factor == "classes") {
    if (!is_int || i < 1) return bad("expected a positive integer");
    c.data.classes = i;
    // Balanced subsets need N divisible by the class count.
    if (c.data.subset == "balanced") {
      c.search.granularity = i;
      c.search.n_min = RoundUp(c.search.n_min, i);
      c.search.n_start = RoundUp(c.search.start(), i);
      c.search.n_max = std::max(c.search.n_start, c.search.n_max / i * i);
    }
  } else if (factor == "mix_fraction") {
    if (!is_num) return bad("expected a number");
    c.data.mix_fraction = d;
  } else if (factor == "channels") {
    if (!is_int || i < 1) return bad("expected a positive integer");
    u.model_channels(i);
  } else if (factor == "blocks") {
    if (!is_int || i < 1) return bad("expected a positive integer");
    u.num_blocks(i);
  } else if (factor == "embedding") {
    auto e = diffmem::diffusion::ParseNoiseEmbedding(value);
    if (!e.ok()) return bad(std::string(e.status().message()));
    u.embedding(*e);
  } else if (factor == "skip_mask") {
    auto m = diffmem::diffusion::ParseSkipMask(value);
    if (!m.ok()) return bad(std::string(m.status().message()));
    u.skip_mask(*m);
  } else if (factor == "batch") {
    if (!is_int || i < 1) return bad("expected a positive integer");
    c.train.lr *= static_cast<double>(i) / c.train.batch_size;  // lr scaled with the batch
    c.train.batch_size = i;
  } else if (factor == "weight_decay") {
    if (!is_num) return bad("expected a number");
    c.train.weight_decay = d;
  } else if (factor == "ema") {
    if (!is_num) return bad("expected a decay in [0, 1)");
    c.train.ema_beta = d;
  } else if (factor == "lr") {
    if (!is_num) return bad("expected a number");
    c.train.lr = d;
  } else if (factor == "dropout") {
    if (!is_num) return bad("expected a number");
    u.dropout(d);
  } else if (factor == "steps") {
    if (!is_int || i < 1) return bad("expected a positive integer");
    c.train.steps = i;
    c.train.kimg = c.train.epochs = 0;
  } else if (factor == "labels") {
    c.data.label_classes = 0;
    if (value == "none" || value == "true" || value == "unique") {
      c.data.labels = value;
    } else if (absl::StartsWith(value, "random-") && absl::SimpleAtoi(value.substr(7), &i) && i >= 1) {
      c.data.labels = "random";
      c.data.label_classes = i;
    } else {
      return bad("expected none, true, random-C or unique");
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--vary: unknown factor '", factor,
        "' (resolution, classes, mix_fraction, channels, blocks, embedding, skip_mask, batch, weight_decay, ema, "
        "lr, dropout, steps, labels)"));
  }
  return diffmem::memorization::ValidateEmmStudyConfig(c);
}

struct Study {
  std::string value;  // "" for a single study
  std::string dir;
  EmmStudyConfig config;
};

absl::StatusOr<std::vector<Study>> Studies(const std::string& out, const EmmStudyConfig& base, std::string* factor) {
  const std::string vary = absl::GetFlag(FLAGS_vary);
  if (vary.empty()) return std::vector<Study>{{"", out, base}};
  const size_t eq = vary.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == vary.size()) {
    return absl::InvalidArgumentError(absl::StrCat("--vary: '", vary, "': expected FACTOR=v1,v2,..."));
  }
  *factor = vary.substr(0, eq);
  std::vector<Study> studies;
  for (absl::string_view v : absl::StrSplit(vary.substr(eq + 1), ',', absl::SkipEmpty())) {
    Study s{std::string(v), absl::StrCat(out, "/", *factor, "=", v), base};
    if (absl::Status st = ApplyFactor(s.config, *factor, s.value); !st.ok()) return st;
    studies.push_back(std::move(s));
  }
  return studies;
}

void Log(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void PrintReport(const Study& s, const EmmReport& r) {
  std::printf("%s%s\n", s.value.empty() ? "" : absl::StrCat(s.value, ": ").c_str(),
              diffmem::memorization::EmmSummaryLine(r).c_str());
  for (const auto& run : r.runs) {
    std::printf("  N=%-6lld ratio %.3f [%.3f, %.3f]%s  %lld steps (%s)  %.0f s\n", static_cast<long long>(run.n),
                run.ratio, run.ci_low, run.ci_high,
                run.optimum_ratio ? absl::StrFormat("  optimum %.3f", *run.optimum_ratio).c_str() : "",
                static_cast<long long>(run.train_steps), run.stop.c_str(), run.wall_seconds());
  }
  std::printf("  wall time of the runs: %.1f min; report: %s/report.json, plot: %s/ratio_vs_n.png\n",
              r.wall_seconds() / 60, s.dir.c_str(), s.dir.c_str());
  std::fflush(stdout);
}

absl::Status WriteFactorTable(const std::string& out, const std::string& factor, const std::vector<Study>& studies,
                              const std::vector<EmmReport>& reports) {
  namespace mem = diffmem::memorization;
  std::vector<mem::EmmFactorRow> rows;
  for (size_t i = 0; i < studies.size(); ++i) {
    rows.push_back({factor, studies[i].value, studies[i].dir, reports[i].estimate,
                    static_cast<int>(reports[i].runs.size()), reports[i].wall_seconds()});
  }
  const std::string base = absl::StrCat(out, "/emm_vs_", factor);
  if (absl::Status s = diffmem::data::WriteFileAtomically(base + ".csv", mem::EmmFactorTableToCsv(rows)); !s.ok()) return s;
  if (absl::Status s = mem::WriteJsonFile(base + ".json", mem::EmmFactorTableToJson(rows, studies[0].config.search));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = mem::WriteLinePlotPng(base + ".png", mem::EmmVsFactorPlot(rows)); !s.ok()) return s;
  std::printf("EMM vs %s: %s.csv, %s.json, %s.png\n", factor.c_str(), base.c_str(), base.c_str(), base.c_str());
  return absl::OkStatus();
}

std::string SelfPath() {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("estimate_emm") : p.string();
}

absl::Status Run(const std::vector<char*>&) {
  namespace mem = diffmem::memorization;
  std::string out = absl::GetFlag(FLAGS_out);
  if (absl::Status s = CheckFlag(!out.empty(), "out", "a study directory is required"); !s.ok()) return s;
  {
    std::error_code ec;
    const std::filesystem::path abs = std::filesystem::absolute(out, ec);
    if (!ec) out = abs.lexically_normal().string();
    while (out.size() > 1 && out.back() == '/') out.pop_back();
  }
  if (absl::Status s = CheckFlag(!Specified("n"), "n", "is chosen by the search (see --n_min, --n_max, --n_start)");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckFlag(!Specified("label_dim"), "label_dim",
                                 "follows each run's data set (its class count with --labels), not a flag here");
      !s.ok()) {
    return s;
  }
  const int modes = !absl::GetFlag(FLAGS_plan).empty() + absl::GetFlag(FLAGS_collect) + (absl::GetFlag(FLAGS_run_n) != 0);
  if (absl::Status s = CheckFlag(modes <= 1, "plan", "--plan, --collect and --run_n exclude each other"); !s.ok()) return s;

  // A run of a planned study: everything comes from OUT/study.json.
  if (const int64_t n = absl::GetFlag(FLAGS_run_n); n != 0) {
    absl::StatusOr<EmmStudyConfig> c = mem::ReadEmmStudyConfig(out);
    if (!c.ok()) return c.status();
    absl::StatusOr<mem::EmmRunRecord> r = mem::RunEmmTrainingRun(out, *c, n, {1, 1, 0}, Log);
    if (!r.ok()) return r.status();
    std::printf("N=%lld ratio %.3f [%.3f, %.3f] -> %s/%s\n", static_cast<long long>(n), r->ratio, r->ci_low,
                r->ci_high, out.c_str(), mem::EmmRunDirName(n).c_str());
    return absl::OkStatus();
  }

  std::string factor;
  std::vector<Study> studies;
  if (absl::GetFlag(FLAGS_collect)) {
    // The studies on disk: OUT itself, or OUT/FACTOR=VALUE for a factor study.
    if (absl::GetFlag(FLAGS_vary).empty()) {
      absl::StatusOr<EmmStudyConfig> c = mem::ReadEmmStudyConfig(out);
      if (!c.ok()) return c.status();
      studies.push_back({"", out, *c});
    } else {
      absl::StatusOr<EmmStudyConfig> base = ConfigFromFlags();
      if (!base.ok()) return base.status();
      absl::StatusOr<std::vector<Study>> planned = Studies(out, *base, &factor);
      if (!planned.ok()) return planned.status();
      for (Study& s : *planned) {
        absl::StatusOr<EmmStudyConfig> c = mem::ReadEmmStudyConfig(s.dir);
        if (!c.ok()) return c.status();
        s.config = *c;
        studies.push_back(s);
      }
    }
  } else {
    absl::StatusOr<EmmStudyConfig> base = ConfigFromFlags();
    if (!base.ok()) return base.status();
    absl::StatusOr<std::vector<Study>> s = Studies(out, *base, &factor);
    if (!s.ok()) return s.status();
    studies = *std::move(s);
  }

  if (const std::string plan = absl::GetFlag(FLAGS_plan); !plan.empty()) {
    std::string text;
    int lines = 0;
    for (const Study& s : studies) {
      absl::StatusOr<std::vector<std::string>> cmds =
          mem::PlanEmmStudy(s.dir, s.config, SelfPath(), absl::StrCat("--threads=", diffmem::tools::ToolThreads()));
      if (!cmds.ok()) return cmds.status();
      for (const std::string& c : *cmds) absl::StrAppend(&text, c, "\n"), ++lines;
    }
    if (absl::Status s = diffmem::data::WriteFileAtomically(plan, text); !s.ok()) return s;
    if (lines > 0) {
      std::printf("%s: %d run(s). Run each line (e.g. sbatch --array=1-%d with `sed -n \"${SLURM_ARRAY_TASK_ID}p\" %s | bash`),\n"
                  "then run this command again for the next wave; when it lists no runs, use --collect.\n",
                  plan.c_str(), lines, lines, plan.c_str());
    } else {
      std::printf("%s: no runs left; the search has finished. Build the report with --collect.\n", plan.c_str());
    }
    return absl::OkStatus();
  }

  std::vector<EmmReport> reports;
  for (const Study& s : studies) {
    if (!s.value.empty()) Log(absl::StrCat("estimate_emm: study ", factor, "=", s.value, " in ", s.dir));
    absl::StatusOr<EmmReport> r =
        absl::GetFlag(FLAGS_collect) ? mem::CollectEmmStudy(s.dir, s.config) : mem::RunEmmStudy(s.dir, s.config, Log);
    if (!r.ok()) return r.status();
    PrintReport(s, *r);
    if (!r->next_runs.empty()) {
      std::printf("  (the search is not finished: next N = %s; run --plan again)\n",
                  absl::StrJoin(r->next_runs, ", ").c_str());
    }
    reports.push_back(*std::move(r));
  }
  if (!factor.empty()) return WriteFactorTable(out, factor, studies, reports);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  return diffmem::tools::ToolMain(
      argc, argv,
      "Estimates EMM (effective model memorization): the largest training-set size N at which a trained\n"
      "diffusion model still memorizes (ratio >= 1 - epsilon). Resumable; rerun the same command to continue.\n"
      "  estimate_emm --out=DIR [--preset=fashion_cpu|paper_cifar10|none] [--vary=FACTOR=v1,v2]\n"
      "  estimate_emm --out=DIR --plan=plan.txt   (cluster: next wave of runs)   estimate_emm --out=DIR --collect\n"
      "The defaults listed below are those of --preset=none; a preset sets its own (README: Estimating EMM),\n"
      "and flags given on the command line override it.",
      Run);
}
