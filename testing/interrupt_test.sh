#!/usr/bin/env bash
# Ctrl-C and SIGTERM end //tools:train and //tools:estimate_emm cleanly:
# after the current step, with its checkpoint written, one line saying where
# the run stands and how to continue, exit 130/143, no result.json and no
# temporary file; --resume then ends with exactly the weights of a run that
# was never interrupted. A temporary file left by a killed write is removed
# on resume.
#   interrupt_test.sh TRAIN SAMPLE ESTIMATE_EMM
set -uo pipefail
set -m  # background jobs get SIGINT (a shell without job control starts them ignoring it)
train=$(realpath "$1") sample=$(realpath "$2") emm=$(realpath "$3")
tmp=${TEST_TMPDIR:-$(mktemp -d)}
status=0
fail() { echo "FAILED: $*"; status=1; }
flags=(--data=fashion-mnist:t10k --n=10 --pad=2 --resolution=8 --channels=8 --blocks=1 --channel_mult=1,1 --attn=
       --checkpoint_every=100000 --batch=8 --log_every=5 --seed=11 --threads=1)

# interrupt SIGNAL CMD...: starts CMD (stderr to $tmp/log), sends SIGNAL once a
# progress line says it trains, and prints CMD's exit status.
interrupt() {
  local sig=$1; shift
  "$@" >/dev/null 2>"$tmp/log" &
  local pid=$!
  for _ in $(seq 1200); do
    grep -q "step [0-9]*/" "$tmp/log" && break
    kill -0 "$pid" 2>/dev/null || break  # it ended by itself: the checks below say how
    sleep 0.05
  done
  kill -"$sig" "$pid" 2>/dev/null
  wait "$pid"
  echo $?
}

for sig in INT TERM; do
  run=$tmp/run_$sig
  rc=$(interrupt "$sig" "$train" "${flags[@]}" --steps=1000000 --out="$run")
  want=$([[ $sig == INT ]] && echo 130 || echo 143)
  [[ $rc == "$want" ]] || fail "train, SIG$sig: exit $rc, expected $want: $(tail -3 "$tmp/log")"
  grep -q "SIG$sig: stopping at the next clean point" "$tmp/log" || fail "train, SIG$sig: no notice: $(cat "$tmp/log")"
  line=$(grep "interrupted by SIG$sig after step" "$tmp/log")
  [[ $line == *"; continue the run with the same flags and --resume" ]] || fail "train, SIG$sig: $(tail -2 "$tmp/log")"
  step=$(sed -n 's/.*interrupted by SIG[A-Z]* after step \([0-9]*\) of 1000000.*/\1/p' <<<"$line")
  [[ -n $step && $step -ge 1 ]] || { fail "train, SIG$sig: no step in '$line'"; continue; }
  [[ -f $run/checkpoint.pt && ! -e $run/result.json ]] || fail "train, SIG$sig: run directory: $(ls "$run")"
  ls "$run" | grep -q '\.tmp\.' && fail "train, SIG$sig: left a temporary file: $(ls "$run")"
  # A write killed before (a second signal) left a temporary file: the resume removes it.
  echo partial > "$run/checkpoint.pt.tmp.999999"
  "$train" "${flags[@]}" --steps=$((step + 3)) --out="$run" --resume 2>"$tmp/resume.log" \
    || fail "train, SIG$sig: the resume failed: $(tail -2 "$tmp/resume.log")"
  grep -q "resuming at step $step of $((step + 3))" "$tmp/resume.log" || fail "train, SIG$sig: $(cat "$tmp/resume.log")"
  [[ ! -e $run/checkpoint.pt.tmp.999999 ]] || fail "train, SIG$sig: the resume kept the stale temporary file"
  # Bit for bit the run that was never interrupted.
  "$train" "${flags[@]}" --steps=$((step + 3)) --out="$tmp/straight_$sig" 2>/dev/null
  for r in "$run" "$tmp/straight_$sig"; do
    "$sample" --checkpoint="$r" --out="$r/samples" --seeds=0-3 --steps=4 --threads=1 2>/dev/null \
      || fail "sampling $r failed"
  done
  diff -r "$run/samples" "$tmp/straight_$sig/samples" >/dev/null \
    || fail "train, SIG$sig: interrupted + resumed differs from the uninterrupted run"
done

# estimate_emm: SIGTERM (a scheduler's preemption) in the first run of a study.
study=(--data=fashion-mnist:t10k --pad=2 --resolution=8 --channels=8 --blocks=1 --channel_mult=1,1 --attn=
       --batch=8 --log_every=5 --threads=1 --n_min=10 --n_start=10 --n_max=20 --granularity=10 --extra_n= --steps=1000000 --samples=10
       --early_stop=false)
rc=$(interrupt TERM "$emm" "${study[@]}" --out="$tmp/study")
[[ $rc == 143 ]] || fail "estimate_emm, SIGTERM: exit $rc, expected 143: $(tail -3 "$tmp/log")"
grep -q "interrupted by SIGTERM after step [0-9]* of 1000000;.*; the same command continues the study" "$tmp/log" \
  || fail "estimate_emm, SIGTERM: $(tail -2 "$tmp/log")"
find "$tmp/study" -name '*.tmp.*' | grep -q . && fail "estimate_emm left temporary files: $(find "$tmp/study" -name '*.tmp.*')"
find "$tmp/study" -name emm_result.json | grep -q . && fail "estimate_emm recorded the interrupted run as finished"

[[ $status -eq 0 ]] && echo "train (SIGINT, SIGTERM) and estimate_emm (SIGTERM) stop cleanly and resume bit for bit"
exit $status
