// SbatchArrayScript: a wave of planned runs (estimate_emm --plan's shell
// commands, one per run) as one Slurm batch script — a job array with one
// task per command, task i running command i. `sbatch --wait plan.sbatch`
// runs the wave; each run resumes from its checkpoint, so resubmitting the
// script after a failure continues the runs that did not finish.
//
// Example:
//   std::string script = SbatchArrayScript({"estimate_emm --out=s --run_n=20", ...}, "emm");
//   // (with tasks_per_run = 4: "#SBATCH --ntasks=4" and "srun estimate_emm ...")
//   // #!/bin/bash
//   // #SBATCH --array=1-2
//   // ...
//   // case "$SLURM_ARRAY_TASK_ID" in
//   //   1)
//   //     estimate_emm --out=s --run_n=20
//   //     ;;

#ifndef DIFFMEM_STUDY_SBATCH_ARRAY_H_
#define DIFFMEM_STUDY_SBATCH_ARRAY_H_

#include <cctype>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace diffmem {
namespace study {

// `job_name`: Slurm's --job-name (letters, digits, '_' and '-' are kept;
// anything else becomes '_'). `tasks_per_run` > 1: each array task asks for
// that many Slurm tasks (--ntasks) and starts its command with `srun`, one
// data-parallel rank per task (on as many nodes as Slurm places them). An
// empty `commands` gives a script that only says there is nothing to run
// (sbatch would reject --array=1-0).
inline std::string SbatchArrayScript(const std::vector<std::string>& commands, const std::string& job_name,
                                     int tasks_per_run = 1) {
  std::string name;
  for (char c : job_name) name += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
  if (name.empty()) name = "diffmem";
  std::string s = "#!/bin/bash\n";
  if (commands.empty()) return s + "# estimate_emm --plan: no runs left; build the report with --collect.\nexit 0\n";
  absl::StrAppend(&s, "#SBATCH --job-name=", name, "\n#SBATCH --array=1-", commands.size(), "\n");
  if (tasks_per_run > 1) {
    absl::StrAppend(&s, "#SBATCH --ntasks=", tasks_per_run, "\n",
                    "# Each run trains data-parallel: srun starts one rank per task.\n");
  }
  absl::StrAppend(&s, "# One array task per planned run (estimate_emm --plan). Each run resumes from its\n"
                  "# checkpoint: resubmit this script to finish runs that failed or were preempted.\n"
                  "set -e\n"
                  "case \"${SLURM_ARRAY_TASK_ID:?run this script with sbatch (a job array)}\" in\n");
  for (size_t i = 0; i < commands.size(); ++i) {
    // The command on a line of its own: a trailing "# comment" must not hide ";;".
    absl::StrAppend(&s, "  ", i + 1, ")\n    ", tasks_per_run > 1 ? "srun " : "", commands[i], "\n    ;;\n");
  }
  absl::StrAppend(&s, "  *)\n    echo \"no planned run for array task $SLURM_ARRAY_TASK_ID (1-", commands.size(),
                  ")\" >&2\n    exit 2\n    ;;\nesac\n");
  return s;
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_SBATCH_ARRAY_H_
