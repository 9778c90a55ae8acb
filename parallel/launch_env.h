// Where this process stands among the processes of a data-parallel job, read
// from the launcher's environment: torchrun-style variables (RANK,
// WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT; also what
// //tools:train --nproc sets) or Slurm's (SLURM_PROCID, SLURM_NTASKS,
// SLURM_LOCALID, the first host of SLURM_JOB_NODELIST). Pure: the
// environment is passed in as a lookup function, so it is tested without
// processes.
//
// Slurm: a process is a rank only inside an srun step, and the step's
// variables (SLURM_STEP_NUM_TASKS, SLURM_STEP_NODELIST) count: a batch
// script itself has SLURM_PROCID=0 and the job's SLURM_NTASKS but no step,
// and is one process (checked on a real Slurm: testing/slurm_test). The
// ranks on this node (local_world_size) are LOCAL_WORLD_SIZE, or this node's
// entry of SLURM_STEP_TASKS_PER_NODE ("4(x2),3"). The rendezvous port is
// MASTER_PORT when set, else 20000 + SLURM_JOB_ID mod 20000 (every task of a
// job computes the same one without talking).
//
// Example:
//   absl::StatusOr<std::optional<LaunchEnv>> env = ReadLaunchEnv(parallel::ProcessEnviron);
//   if (!env.ok()) return env.status();          // set but malformed: an error naming the variable
//   if (env->has_value()) Connect(**env);         // else: a single process
//   ExpandHostList("node[01-03,7],gpu2")        // {"node01", "node02", "node03", "node7", "gpu2"}
//   VisibleDeviceForRank("4,5,6,7", 1)           // "5": the rank's one GPU

#ifndef DIFFMEM_PARALLEL_LAUNCH_ENV_H_
#define DIFFMEM_PARALLEL_LAUNCH_ENV_H_

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace diffmem {
namespace parallel {

struct LaunchEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;          // the rank among this node's processes (picks the GPU)
  int local_world_size = 1;    // the ranks on this node (share its cores)
  std::string master_addr;     // where rank 0 serves the rendezvous store
  int master_port = 0;
  std::string source;          // "torchrun" or "slurm", for messages
};

// Returns the variable's value, or nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

inline std::optional<std::string> ProcessEnviron(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

// Expands Slurm's host-list syntax: comma-separated names, each with
// optional bracketed ranges ("n[1-3,05-06]x[1-2]"); zero padding is kept
// (the width of a range's lower bound, as Slurm's hostlist does).
inline absl::StatusOr<std::vector<std::string>> ExpandHostList(const std::string& list) {
  // Split at commas outside brackets.
  std::vector<std::string> names;
  int depth = 0;
  std::string cur;
  for (char c : list) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (depth < 0 || depth > 1) return absl::InvalidArgumentError(absl::StrCat("host list '", list, "': unbalanced brackets"));
    if (c == ',' && depth == 0) {
      names.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (depth != 0) return absl::InvalidArgumentError(absl::StrCat("host list '", list, "': unbalanced brackets"));
  names.push_back(cur);
  std::vector<std::string> out;
  for (const std::string& name : names) {
    if (name.empty()) return absl::InvalidArgumentError(absl::StrCat("host list '", list, "': empty host name"));
    std::vector<std::string> partial = {""};
    size_t i = 0;
    while (i < name.size()) {
      if (name[i] != '[') {
        for (std::string& p : partial) p += name[i];
        ++i;
        continue;
      }
      const size_t close = name.find(']', i);
      const std::string body = name.substr(i + 1, close - i - 1);
      std::vector<std::string> items;
      size_t start = 0;
      while (start <= body.size()) {
        size_t comma = body.find(',', start);
        if (comma == std::string::npos) comma = body.size();
        const std::string range = body.substr(start, comma - start);
        const size_t dash = range.find('-');
        const std::string lo_text = range.substr(0, dash);
        const std::string hi_text = dash == std::string::npos ? lo_text : range.substr(dash + 1);
        int64_t lo = 0, hi = 0;
        if (lo_text.empty() || !absl::SimpleAtoi(lo_text, &lo) || !absl::SimpleAtoi(hi_text, &hi) || lo < 0 ||
            hi < lo || hi - lo > 100000) {
          return absl::InvalidArgumentError(absl::StrCat("host list '", list, "': bad range '", range, "'"));
        }
        for (int64_t v = lo; v <= hi; ++v) {
          std::string digits = std::to_string(v);
          if (digits.size() < lo_text.size()) digits.insert(0, lo_text.size() - digits.size(), '0');
          items.push_back(digits);
        }
        start = comma + 1;
      }
      std::vector<std::string> next;
      for (const std::string& p : partial) {
        for (const std::string& item : items) next.push_back(p + item);
      }
      partial = std::move(next);
      i = close + 1;
    }
    out.insert(out.end(), partial.begin(), partial.end());
  }
  return out;
}

namespace internal_launch_env {

inline absl::StatusOr<int> IntVar(const EnvLookup& env, const std::string& name, int min_value) {
  const std::optional<std::string> v = env(name);
  int value = 0;
  if (!v || !absl::SimpleAtoi(*v, &value) || value < min_value) {
    return absl::InvalidArgumentError(absl::StrCat("environment variable ", name, "='", v ? *v : "",
                                                   "': expected an integer ≥ ", min_value));
  }
  return value;
}

// Sets *value from the variable when it is set (else leaves it).
inline absl::Status IntVarIfSet(const EnvLookup& env, const std::string& name, int min_value, int* value) {
  if (!env(name)) return absl::OkStatus();
  absl::StatusOr<int> v = IntVar(env, name, min_value);
  if (!v.ok()) return v.status();
  *value = *v;
  return absl::OkStatus();
}

inline absl::Status CheckRank(const LaunchEnv& e, const std::string& rank_var, const std::string& world_var) {
  if (e.rank >= e.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("environment: ", rank_var, "=", e.rank, " is not below ", world_var,
                                                   "=", e.world_size));
  }
  return absl::OkStatus();
}

}  // namespace internal_launch_env

// Slurm's per-node counts, "4(x2),3" for {4, 4, 3}.
inline absl::StatusOr<std::vector<int>> ExpandPerNodeCounts(const std::string& counts) {
  std::vector<int> out;
  for (absl::string_view item : absl::StrSplit(counts, ',')) {
    const size_t paren = item.find("(x");
    int value = 0, times = 1;
    const bool ok = absl::SimpleAtoi(item.substr(0, paren), &value) && value >= 1 &&
                    (paren == absl::string_view::npos ||
                     (absl::EndsWith(item, ")") &&
                      absl::SimpleAtoi(item.substr(paren + 2, item.size() - paren - 3), &times) && times >= 1 &&
                      times <= 100000));
    if (!ok) return absl::InvalidArgumentError(absl::StrCat("'", counts, "': expected counts like 4(x2),3"));
    out.insert(out.end(), times, value);
  }
  return out;
}

// The launch environment, torchrun's variables first, then Slurm's; nullopt
// when neither is set (a plain single process). A variable that is set but
// malformed is an error naming it.
inline absl::StatusOr<std::optional<LaunchEnv>> ReadLaunchEnv(const EnvLookup& env) {
  using internal_launch_env::IntVar;
  using internal_launch_env::IntVarIfSet;
  LaunchEnv e;
  if (env("WORLD_SIZE") || env("RANK")) {
    e.source = "torchrun";
    absl::StatusOr<int> world = IntVar(env, "WORLD_SIZE", 1), rank = IntVar(env, "RANK", 0);
    if (!world.ok()) return world.status();
    if (!rank.ok()) return rank.status();
    e.world_size = *world;
    e.rank = *rank;
    if (absl::Status s = IntVarIfSet(env, "LOCAL_RANK", 0, &e.local_rank); !s.ok()) return s;
    if (absl::Status s = IntVarIfSet(env, "LOCAL_WORLD_SIZE", 1, &e.local_world_size); !s.ok()) return s;
    if (absl::Status s = internal_launch_env::CheckRank(e, "RANK", "WORLD_SIZE"); !s.ok()) return s;
    if (e.world_size > 1) {
      const std::optional<std::string> addr = env("MASTER_ADDR");
      if (!addr || addr->empty()) {
        return absl::InvalidArgumentError("environment: WORLD_SIZE > 1 but MASTER_ADDR is not set");
      }
      e.master_addr = *addr;
      absl::StatusOr<int> port = IntVar(env, "MASTER_PORT", 1);
      if (!port.ok()) return port.status();
      if (*port > 65535) return absl::InvalidArgumentError(absl::StrCat("environment: MASTER_PORT=", *port, " is not a port"));
      e.master_port = *port;
    }
    return std::optional<LaunchEnv>(e);
  }
  // Not in an srun step (a batch script, an salloc shell): one process.
  if (!env("SLURM_PROCID") || !env("SLURM_STEP_NUM_TASKS")) return std::optional<LaunchEnv>();
  e.source = "slurm";
  const std::string tasks_var = "SLURM_STEP_NUM_TASKS";  // the step's, not the job's SLURM_NTASKS
  const std::string nodes_var = env("SLURM_STEP_NODELIST") ? "SLURM_STEP_NODELIST" : "SLURM_JOB_NODELIST";
  absl::StatusOr<int> rank = IntVar(env, "SLURM_PROCID", 0), world = IntVar(env, tasks_var, 1);
  if (!rank.ok()) return rank.status();
  if (!world.ok()) return world.status();
  e.rank = *rank;
  e.world_size = *world;
  if (absl::Status s = IntVarIfSet(env, "SLURM_LOCALID", 0, &e.local_rank); !s.ok()) return s;
  if (const std::optional<std::string> per_node = env("SLURM_STEP_TASKS_PER_NODE")) {
    absl::StatusOr<std::vector<int>> counts = ExpandPerNodeCounts(*per_node);
    if (!counts.ok()) return absl::InvalidArgumentError(absl::StrCat("SLURM_STEP_TASKS_PER_NODE: ", counts.status().message()));
    int node = 0;
    if (absl::Status s = IntVarIfSet(env, "SLURM_NODEID", 0, &node); !s.ok()) return s;
    e.local_world_size = (*counts)[std::min<size_t>(node, counts->size() - 1)];
  }
  if (absl::Status s = internal_launch_env::CheckRank(e, "SLURM_PROCID", tasks_var); !s.ok()) return s;
  if (e.world_size > 1) {
    if (std::optional<std::string> addr = env("MASTER_ADDR"); addr && !addr->empty()) {
      e.master_addr = *addr;
    } else {
      const std::optional<std::string> nodes = env(nodes_var);
      if (!nodes) return absl::InvalidArgumentError(absl::StrCat("environment: ", nodes_var, " is not set"));
      absl::StatusOr<std::vector<std::string>> hosts = ExpandHostList(*nodes);
      if (!hosts.ok()) return absl::InvalidArgumentError(absl::StrCat(nodes_var, ": ", hosts.status().message()));
      e.master_addr = hosts->front();
    }
    if (env("MASTER_PORT")) {
      absl::StatusOr<int> port = IntVar(env, "MASTER_PORT", 1);
      if (!port.ok()) return port.status();
      e.master_port = *port;
    } else {
      absl::StatusOr<int> job = IntVar(env, "SLURM_JOB_ID", 0);
      if (!job.ok()) return absl::InvalidArgumentError("environment: set MASTER_PORT or SLURM_JOB_ID for the rendezvous port");
      e.master_port = 20000 + *job % 20000;
    }
  }
  return std::optional<LaunchEnv>(e);
}

// The CUDA_VISIBLE_DEVICES a rank should run with so that its cuda:0 is the
// local_rank-th GPU of the node: the local rank itself when unset, the
// local_rank-th entry of a list, a single entry unchanged (a scheduler that
// gave each task its own GPU, as srun --gpus-per-task=1 does).
inline absl::StatusOr<std::string> VisibleDeviceForRank(const std::optional<std::string>& visible, int local_rank) {
  if (!visible) return std::to_string(local_rank);
  std::vector<std::string> entries;
  size_t start = 0;
  while (start <= visible->size()) {
    size_t comma = visible->find(',', start);
    if (comma == std::string::npos) comma = visible->size();
    if (comma > start) entries.push_back(visible->substr(start, comma - start));
    start = comma + 1;
  }
  if (entries.size() == 1) return entries[0];
  if (local_rank >= static_cast<int>(entries.size())) {
    return absl::InvalidArgumentError(absl::StrCat("CUDA_VISIBLE_DEVICES='", *visible, "' lists ", entries.size(),
                                                   " GPUs, too few for local rank ", local_rank));
  }
  return entries[local_rank];
}

}  // namespace parallel
}  // namespace diffmem

#endif  // DIFFMEM_PARALLEL_LAUNCH_ENV_H_
