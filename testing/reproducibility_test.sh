#!/usr/bin/env bash
# Reproducibility: the same seed and flags give bit-identical outputs on CPU
# across two runs — optimum samples and memorization reports (and, where the
# train/sample tools are passed, trained weights' samples).
#   reproducibility_test.sh OPTIMUM MEM_RATIO [TRAIN SAMPLE]
set -euo pipefail
optimum=$1 mem_ratio=$2 train=${3:-} sample=${4:-}
tmp=${TEST_TMPDIR:-$(mktemp -d)}

for run in a b; do
  "$optimum" --out="$tmp/opt_$run" --n=30 --subset=balanced --seeds=5-10 --steps=10 --threads=2 2>/dev/null
  "$mem_ratio" --samples="$tmp/opt_$run" --n=30 --out="$tmp/rep_$run" --threads=2 2>/dev/null
done
n=$(ls "$tmp/opt_a" | wc -l)
[[ $n -eq 6 ]] || { echo "expected 6 samples (the grid goes beside the folder), found $n files"; exit 1; }
cmp "$tmp/opt_a_grid.png" "$tmp/opt_b_grid.png" || { echo "optimum grids differ between two identical runs"; exit 1; }
diff -r "$tmp/opt_a" "$tmp/opt_b" || { echo "optimum samples differ between two identical runs"; exit 1; }
# The reports name their own sample folders; everything else must match byte for byte.
diff <(grep -v '"samples_dir"' "$tmp/rep_a/report.json") <(grep -v '"samples_dir"' "$tmp/rep_b/report.json") \
  || { echo "memorization reports differ"; exit 1; }
grep -q '"samples_dir"' "$tmp/rep_a/report.json"
cmp "$tmp/rep_a/top_memorized.png" "$tmp/rep_b/top_memorized.png"
# A different seed must change the samples (the comparison above can fail).
"$optimum" --out="$tmp/opt_c" --n=30 --subset=balanced --seeds=6-11 --steps=10 --threads=2 2>/dev/null
if cmp -s "$tmp/opt_a/000006.png" "$tmp/opt_c/000006.png"; then :; else echo "seed 6 differs between runs starting at 5 and 6"; exit 1; fi
if cmp -s "$tmp/opt_a_grid.png" "$tmp/opt_c_grid.png"; then echo "different seeds gave the same grid"; exit 1; fi

if [[ -n "$train" ]]; then
  for run in a b; do
    "$train" --out="$tmp/train_$run" --n=10 --resolution=7 --steps=20 --batch=8 --seed=3 --threads=2 2>/dev/null
    "$sample" --run="$tmp/train_$run" --out="$tmp/samples_$run" --seeds=0-3 --steps=6 --threads=2 2>/dev/null
  done
  diff -r "$tmp/samples_a" "$tmp/samples_b" || { echo "samples of two identical training runs differ"; exit 1; }
fi
echo "reproducible: optimum samples, memorization report${train:+, train+sample}"
