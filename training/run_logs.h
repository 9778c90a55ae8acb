// The training logs of a run directory, one record per log interval:
//   loss.csv      step,kimg,loss,lr,images_per_s,wall_s
//   stats.jsonl   one JSON object per line, for tools and notebooks:
//     step          optimizer steps done
//     nimg, kimg    training images seen (and in thousands)
//     loss          mean loss over the interval
//     lr            learning rate of the last step (after warm-up)
//     ema_beta      EMA decay β of the last step
//     images_per_s  training throughput over the interval
//     wall_s        seconds since this session started
//     time          Unix time of the record (seconds), to line sessions up
// On resume the rows after the checkpoint are dropped (and the partial
// session-end row at it, when training goes on), so a resumed run's logs
// equal an uninterrupted run's but for the times.
//
// Example:
//   RunLogs logs(run_dir, /*log_every=*/100);
//   absl::Status s = resumed ? logs.TruncateAfter(step, /*drop_partial=*/true) : logs.Create();
//   s = logs.Append({step, nimg, loss, lr, ema_beta, images_per_s, wall_s});

#ifndef DIFFMEM_TRAINING_RUN_LOGS_H_
#define DIFFMEM_TRAINING_RUN_LOGS_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "util/atomic_file.h"

namespace diffmem {
namespace training {

inline std::string RunLossLogPath(const std::string& run_dir) { return run_dir + "/loss.csv"; }
inline std::string RunStatsPath(const std::string& run_dir) { return run_dir + "/stats.jsonl"; }

struct LogRecord {
  int64_t step = 0;
  int64_t nimg = 0;
  double loss = 0;
  double lr = 0;
  double ema_beta = 0;
  double images_per_s = 0;
  double wall_s = 0;
};

class RunLogs {
 public:
  RunLogs(std::string run_dir, int64_t log_every) : run_dir_(std::move(run_dir)), log_every_(log_every) {}

  // Starts both logs empty (a new run).
  absl::Status Create() const {
    if (absl::Status s = util::WriteFileAtomically(RunLossLogPath(run_dir_), kCsvHeader); !s.ok()) return s;
    return util::WriteFileAtomically(RunStatsPath(run_dir_), "");
  }

  // Keeps the records up to `step` (a resumed run); with drop_partial, also
  // drops a session-end record at `step` that is not a regular one.
  absl::Status TruncateAfter(int64_t step, bool drop_partial) const {
    auto keep = [&](int64_t s) { return s <= step && !(drop_partial && s == step && s % log_every_ != 0); };
    std::string csv = kCsvHeader, jsonl;
    if (absl::StatusOr<std::string> text = util::ReadFileToString(RunLossLogPath(run_dir_)); text.ok()) {
      bool header = true;
      for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
        if (std::exchange(header, false)) continue;
        int64_t s = 0;
        const size_t comma = line.find(',');
        if (comma != absl::string_view::npos && absl::SimpleAtoi(line.substr(0, comma), &s) && keep(s)) {
          absl::StrAppend(&csv, line, "\n");
        }
      }
    }
    if (absl::StatusOr<std::string> text = util::ReadFileToString(RunStatsPath(run_dir_)); text.ok()) {
      for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
        const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (j.is_object() && j.contains("step") && j["step"].is_number_integer() && keep(j["step"].get<int64_t>())) {
          absl::StrAppend(&jsonl, line, "\n");
        }
      }
    }
    if (absl::Status s = util::WriteFileAtomically(RunLossLogPath(run_dir_), csv); !s.ok()) return s;
    return util::WriteFileAtomically(RunStatsPath(run_dir_), jsonl);
  }

  // Appends one record to both logs (flushed: a killed run keeps its rows).
  absl::Status Append(const LogRecord& r) const {
    const std::string row = absl::StrFormat("%d,%.3f,%.6g,%.6g,%.1f,%.2f\n", r.step, r.nimg / 1000.0, r.loss, r.lr,
                                            r.images_per_s, r.wall_s);
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    const nlohmann::json j = {{"step", r.step},       {"nimg", r.nimg},         {"kimg", r.nimg / 1000.0},
                              {"loss", r.loss},       {"lr", r.lr},             {"ema_beta", r.ema_beta},
                              {"images_per_s", r.images_per_s}, {"wall_s", r.wall_s}, {"time", now}};
    if (absl::Status s = AppendLine(RunLossLogPath(run_dir_), row); !s.ok()) return s;
    return AppendLine(RunStatsPath(run_dir_), j.dump() + "\n");
  }

 private:
  static constexpr char kCsvHeader[] = "step,kimg,loss,lr,images_per_s,wall_s\n";

  static absl::Status AppendLine(const std::string& path, const std::string& line) {
    std::FILE* f = std::fopen(path.c_str(), "a");
    if (f == nullptr) return absl::UnavailableError(absl::StrCat(path, ": cannot append"));
    const bool ok = std::fwrite(line.data(), 1, line.size(), f) == line.size();
    if (std::fclose(f) != 0 || !ok) return absl::UnavailableError(absl::StrCat(path, ": write failed"));
    return absl::OkStatus();
  }

  std::string run_dir_;
  int64_t log_every_;
};

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_RUN_LOGS_H_
