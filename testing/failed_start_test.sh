#!/usr/bin/env bash
# What every tool promises at its start: --help prints the usage and exits 0,
# and a start that fails (a missing input file) exits non-zero with one line
# naming it, leaving --out as it was: absent stays absent, an existing
# directory keeps exactly its files. Then the starts estimate_emm and train
# used to get wrong: each is refused before anything is written, in the real
# start and in --dry_run alike.
# Args: the tools' binaries (estimate_emm, export_edm, import_edm,
# make_dataset, mem_ratio, optimum, png_grid, sample, train, in this order).
set -uo pipefail
tools=()
for tool in "$@"; do
  tools+=("$(realpath "$tool")")
  declare "bin_$(basename "$tool")=$(realpath "$tool")"
done
tmp=$(mktemp -d)
cd "$tmp"
status=0
fail() { echo "FAILED: $*"; status=1; }
missing=$tmp/nonexistent.zip
net=(--data=fashion-mnist:t10k --resolution=8 --pad=2 --channels=8 --channel_mult=1,2 --blocks=1 --attn= --batch=4
     --threads=1)
small=("${net[@]}" --n=10)

# tree DIR: every path under DIR with its content's checksum, to compare before and after.
tree() { (cd "$1" && find . -print0 | sort -z | xargs -0 -I{} sh -c 'printf "%s " "{}"; [ -f "{}" ] && md5sum < "{}" || echo dir'); }

# refuses NAME EXPECTED_MESSAGE TOOL ARGS...: the start fails (non-zero, the
# message on stderr) and --out=$tmp/out_NAME, absent before, is still absent;
# run again with --out an existing directory holding one file, that
# directory is unchanged.
refuses() {
  local name=$1 want=$2 tool=$3; shift 3
  local out=$tmp/out_$name
  "$tool" "$@" --out="$out" >/dev/null 2>"$tmp/err"
  local rc=$?
  [[ $rc -ne 0 ]] || fail "$name: exit 0 for a failed start"
  grep -qF -- "$want" "$tmp/err" || fail "$name: expected '$want', got: $(cat "$tmp/err")"
  [[ ! -e $out ]] || fail "$name: a failed start created $out: $(find "$out" | head -5)"
  mkdir -p "$tmp/kept_$name" && echo "a user's file" > "$tmp/kept_$name/notes.txt"
  local before; before=$(tree "$tmp/kept_$name")
  "$tool" "$@" --out="$tmp/kept_$name" >/dev/null 2>&1 && fail "$name: exit 0 with an existing --out"
  [[ "$(tree "$tmp/kept_$name")" == "$before" ]] || fail "$name: a failed start changed the existing --out"
}

for tool in "${tools[@]}"; do
  name=$(basename "$tool")
  "$tool" --help >"$tmp/help" 2>&1
  rc=$?
  [[ $rc -eq 0 ]] || fail "$name --help: exit $rc, expected 0"
  grep -q "Flags from tools/" "$tmp/help" || fail "$name --help printed no flags: $(head -3 "$tmp/help")"
done

# A missing input, per tool.
refuses estimate_emm "$missing" "$bin_estimate_emm" --data="$missing"
refuses train "$missing" "$bin_train" --data="$missing" --steps=1
refuses optimum "$missing" "$bin_optimum" --data="$missing"
refuses mem_ratio "$missing" "$bin_mem_ratio" --data="$missing" --samples="$tmp"
refuses make_dataset.zip "$missing" "$bin_make_dataset" --data="$missing"
refuses png_grid "$tmp/nonexistent.gz" "$bin_png_grid" --idx="$tmp/nonexistent.gz"
refuses sample "$tmp/nonexistent" "$bin_sample" --checkpoint="$tmp/nonexistent"
refuses export_edm "$tmp/nonexistent" "$bin_export_edm" --checkpoint="$tmp/nonexistent"
refuses import_edm "$tmp/nonexistent.pt" "$bin_import_edm" --precond=vp --state_dict="$tmp/nonexistent.pt"

# estimate_emm: a start refused for its device, its resolution, --nproc or an
# N the data set cannot give writes no study.json, and the corrected command
# then starts (its dry run agrees).
refuses emm_device "--device=cuda" "$bin_estimate_emm" "${net[@]}" --device=cuda
refuses emm_device_dry "--device=cuda" "$bin_estimate_emm" "${net[@]}" --device=cuda --dry_run
refuses emm_resolution "cannot area-average 32x32 images to 7x7" "$bin_estimate_emm" "${net[@]}" --resolution=7
refuses emm_resolution_dry "cannot area-average 32x32 images to 7x7" "$bin_estimate_emm" "${net[@]}" \
  --resolution=7 --dry_run
refuses emm_nproc "--nproc: must be at least 1, got 0" "$bin_estimate_emm" "${net[@]}" --nproc=0
refuses emm_nmax "--n_max=20000: the search may train on N=20000 images" "$bin_estimate_emm" "${net[@]}" \
  --n_max=20000
refuses emm_nmax_dry "class 0 has only 1000 images" "$bin_estimate_emm" "${net[@]}" --n_max=20000 --dry_run
"$bin_estimate_emm" "${net[@]}" --data="$missing" --out="$tmp/study" 2>/dev/null
"$bin_estimate_emm" "${net[@]}" --out="$tmp/study" --dry_run >/dev/null 2>"$tmp/err" \
  || fail "estimate_emm: the corrected command's dry run after a failed start: $(cat "$tmp/err")"

# train: the same for its device, --nproc and an existing run; and a resume
# asked to stop before the checkpoint's step names both numbers.
refuses train_device "--device=cuda" "$bin_train" "${small[@]}" --steps=1 --device=cuda
refuses train_device_dry "--device=cuda" "$bin_train" "${small[@]}" --steps=1 --device=cuda --dry_run
refuses train_nproc "--nproc: must be at least 1, got 0" "$bin_train" "${small[@]}" --steps=1 --nproc=0
"$bin_train" "${small[@]}" --steps=3 --out="$tmp/run" 2>/dev/null || fail "train: a 3-step run failed"
before=$(tree "$tmp/run")
"$bin_train" "${small[@]}" --steps=3 --out="$tmp/run" --dry_run >/dev/null 2>"$tmp/err" \
  && fail "train --dry_run accepts an --out that holds a run"
grep -qF "already holds a run" "$tmp/err" || fail "train --dry_run on a run: $(cat "$tmp/err")"
"$bin_train" "${small[@]}" --steps=1 --out="$tmp/run" --resume >/dev/null 2>"$tmp/err" \
  && fail "train --resume --steps=1 on a 3-step checkpoint exited 0"
grep -qF "the checkpoint is at step 3 and this run is 1 steps long" "$tmp/err" \
  || fail "train --resume --steps=1: $(cat "$tmp/err")"
[[ "$(tree "$tmp/run")" == "$before" ]] || fail "train: a refused resume changed the run directory"

[[ $status -eq 0 ]] && echo "$# tools: --help exits 0; failed starts leave --out as it was"
exit $status
