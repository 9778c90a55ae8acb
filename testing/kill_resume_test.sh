#!/usr/bin/env bash
# Crash safety of //tools:train: SIGKILL it at random moments, again and
# again, while it writes checkpoints every few steps. After every kill the
# run directory must hold a loadable latest checkpoint (checked by sampling
# from it), and `--resume` must end with exactly the weights of a run that
# was never interrupted (same samples, raw and EMA, bit for bit).
#   kill_resume_test.sh TRAIN SAMPLE
set -euo pipefail
train=$1 sample=$2
tmp=${TEST_TMPDIR:-$(mktemp -d)}
flags=(--n=10 --pad=2 --resolution=8 --channels=8 --blocks=1 --channel_mult=1,1 --attn=
       --steps=1000 --checkpoint_every=3 --batch=8 --log_every=5 --seed=11 --threads=1)

"$train" --out="$tmp/straight" "${flags[@]}" 2>/dev/null

RANDOM=7  # the kill times are pseudo-random but the same every run
kills=0 loads=0
while [[ ! -f "$tmp/killed/result.json" && $kills -lt 8 ]]; do
  "$train" --out="$tmp/killed" --resume "${flags[@]}" 2>"$tmp/train.log" &
  pid=$!
  # Wait until it is training (a progress line), then kill it a moment later,
  # usually in the middle of a step or of a checkpoint write.
  for _ in $(seq 600); do grep -q "step" "$tmp/train.log" && break; sleep 0.05; done
  sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
  if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null || true
  if [[ -f "$tmp/killed/checkpoint.pt" ]]; then
    rm -rf "$tmp/probe"
    "$sample" --checkpoint="$tmp/killed" --out="$tmp/probe" --seeds=0 --steps=2 --threads=1 2>"$tmp/probe.err" \
      || { echo "after kill $kills the latest checkpoint does not load:"; cat "$tmp/probe.err"; exit 1; }
    loads=$((loads + 1))
  fi
  ls "$tmp/killed" 2>/dev/null | grep -q '\.tmp\.' && echo "(a temporary file from the killed write is present; it is ignored)"
done
[[ $kills -ge 3 ]] || { echo "only $kills kills landed mid-run; the test did not test anything"; exit 1; }
[[ -f "$tmp/killed/result.json" ]] || "$train" --out="$tmp/killed" --resume "${flags[@]}" 2>/dev/null
for weights in raw ema; do
  for run in straight killed; do
    "$sample" --checkpoint="$tmp/$run" --weights=$weights --out="$tmp/s_${run}_$weights" --seeds=0-3 --steps=4 \
      --threads=1 2>/dev/null
  done
  diff -r "$tmp/s_straight_$weights" "$tmp/s_killed_$weights" \
    || { echo "$weights weights after $kills kills + resume differ from the uninterrupted run"; exit 1; }
done
echo "$kills kills, $loads checkpoint loads checked; resumed run equals the uninterrupted run"
