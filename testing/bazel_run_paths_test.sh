#!/usr/bin/env bash
# `bazel run` semantics: a tool started in another directory (the runfiles
# tree) with BUILD_WORKING_DIRECTORY set resolves relative paths — flags and
# --flagfile — against that directory, where the user typed the command.
# Args: make_dataset optimum mem_ratio.
set -euo pipefail
make_dataset=$(realpath "$1") optimum=$(realpath "$2") mem_ratio=$(realpath "$3")
tmp=$(mktemp -d)
user="$tmp/user" elsewhere="$tmp/runfiles"
mkdir -p "$user/cfg" "$elsewhere"
echo "--n=20" > "$user/cfg/flags.txt"
cd "$elsewhere"
BUILD_WORKING_DIRECTORY="$user" "$make_dataset" --data=fashion-mnist:t10k --flagfile=cfg/flags.txt \
  --resolution=7 --out=data/fm20.zip --threads=1 2>/dev/null
BUILD_WORKING_DIRECTORY="$user" "$optimum" --data=data/fm20.zip --seeds=0-3 --steps=4 --out=out/optimum --threads=1 2>/dev/null
BUILD_WORKING_DIRECTORY="$user" "$mem_ratio" --samples=out/optimum --data=data/fm20.zip --out=out/ratio --threads=1 >/dev/null 2>&1
for f in data/fm20.zip out/optimum/000003.png out/optimum_grid.png out/ratio/report.json; do
  [[ -s "$user/$f" ]] || { echo "missing $user/$f"; exit 1; }
done
# The 20 images of the flagfile, read back from the user's relative path.
grep -q '"train_size": 20' "$user/out/ratio/report.json" || { echo "report.json: expected train_size 20"; exit 1; }
if [[ -n "$(ls -A "$elsewhere")" ]]; then echo "files written into the starting directory: $(ls -A "$elsewhere")"; exit 1; fi
# Without the variable, relative paths are relative to the working directory, as for any program.
"$make_dataset" --data=fashion-mnist:t10k --n=10 --out=here.zip --threads=1 2>/dev/null
[[ -s "$elsewhere/here.zip" ]] || { echo "without BUILD_WORKING_DIRECTORY: expected ./here.zip"; exit 1; }
# A directory that does not exist is a clear error.
if BUILD_WORKING_DIRECTORY="$tmp/nope" "$make_dataset" --out=x.zip 2>"$tmp/err"; then echo "expected a failure"; exit 1; fi
grep -q "BUILD_WORKING_DIRECTORY=$tmp/nope: cannot change into it" "$tmp/err" || { cat "$tmp/err"; exit 1; }
echo "relative paths follow BUILD_WORKING_DIRECTORY"
