#!/usr/bin/env bash
# GPU smoke test and benchmark of a diffmem bundle (tools/bundle/make_bundle.sh
# copies this script into the bundle; run it from there):
#   1. trains the default 8×8 network (the EMM study's CPU network: DDPM++,
#      32 channels, levels 1,2, 1 block, no attention) for a few hundred steps,
#   2. samples it (EDM Heun, 18 steps) and measures the samples' memorization
#      ratio against the training images,
#   3. runs the train-step and memorization benchmarks on the device, among
#      them the optimum sampled at paper size (B=256, N=50k, D=3072, random
#      data: BM_Big_OptimumSample),
#   4. prints images/s and each benchmark's arithmetic rate as a ratio to the
#      device's own GEMM rate measured in the same run (BM_Gemm, float32).
# About 3–5 minutes on an H100 (the benchmarks dominate).
#
#   DIFFMEM_LIBTORCH=/opt/torch/.venv/lib/python3.X/site-packages/torch ./gpu_smoke.sh
#   ./gpu_smoke.sh --device=cpu --tiny        # the plumbing, at tiny sizes, on a CPU
#
# Options: --device=cuda|cpu (default cuda), --tiny, --out=DIR (default a new
# temp dir), --data=SPEC (default the bundle's data/fashion1k_8x8.zip).
set -euo pipefail
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)

device=cuda
tiny=0
out=
data="$here/data/fashion1k_8x8.zip"
for arg in "$@"; do
  case "$arg" in
    --device=cuda | --device=cpu) device=${arg#--device=} ;;
    --tiny) tiny=1 ;;
    --out=*) out=${arg#--out=} ;;
    --data=*) data=${arg#--data=} ;;
    *) echo "gpu_smoke.sh: unknown argument '$arg' (--device=cuda|cpu, --tiny, --out=DIR, --data=SPEC)" >&2; exit 2 ;;
  esac
done

# ---- Everything this script assumes about the tools' flags, in one place ----
TRAIN_NETWORK_FLAGS=(--arch=ddpmpp --precond=edm --channels=32 --channel_mult=1,2 --blocks=1 --attn= --dropout=0)
TRAIN_FLAGS=(--batch=64 --lr=1e-3 --ema_beta=0.99 --log_every=50 --checkpoint_every=0)
run_train() {  # DATA STEPS DEVICE OUT
  "$here/train" --data="$1" "${TRAIN_NETWORK_FLAGS[@]}" "${TRAIN_FLAGS[@]}" --steps="$2" --device="$3" --out="$4"
}
run_sample() {  # RUN_DIR COUNT DEVICE OUT
  "$here/sample" --checkpoint="$1" --weights=ema --seeds="0-$(($2 - 1))" --device="$3" --out="$4"
}
run_mem_ratio() {  # SAMPLES DATA OUT
  "$here/mem_ratio" --samples="$1" --data="$2" --out="$3"
}
BENCHMARK_DEVICE_VARIABLE=DIFFMEM_BENCHMARK_DEVICE  # benchmarks/benchmark_device.h
# -----------------------------------------------------------------------------

if ((tiny)); then
  steps=20; samples=16; min_time=0.01
  train_filter='BM_(TrainerStep|RawLibTorchStep)/config:0'
  mem_filter='BM_Gemm/M:2048/|BM_Small_(Denoiser|Search)/ours/[BQ]:[0-9]+/N:5000/|BM_Small_OptimumSample'
else
  steps=300; samples=256; min_time=0.5
  train_filter='BM_(TrainerStep|RawLibTorchStep|ForwardBackwardOnly)/config:[012]'
  mem_filter='BM_Gemm|BM_Big_|BM_Small_OptimumSample'
fi
[[ -n "$out" ]] || out=$(mktemp -d /tmp/diffmem-smoke.XXXXXX)
mkdir -p "$out"
echo "gpu_smoke: device $device, results in $out"
if [[ "$device" == cuda ]] && command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
t_all=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }

echo "=== 1. train $steps steps on $data"
t=$(date +%s.%N)
run_train "$data" "$steps" "$device" "$out/run" 2>&1 | tail -3
train_s=$(elapsed "$t")
echo "=== 2. sample $samples images, memorization ratio"
t=$(date +%s.%N)
run_sample "$out/run" "$samples" "$device" "$out/samples" 2>&1 | tail -2
sample_s=$(elapsed "$t")
run_mem_ratio "$out/samples" "$data" "$out/ratio" 2>&1 | tail -2
echo "=== 3. benchmarks on $device"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
env "$BENCHMARK_DEVICE_VARIABLE=$device" "$here/train_step_benchmark" --benchmark_filter="$train_filter" \
  --benchmark_min_time="$min_time" --benchmark_out="$out/train_step_benchmark.json" --benchmark_out_format=json
env "$BENCHMARK_DEVICE_VARIABLE=$device" "$here/memorization_benchmark" --benchmark_filter="$mem_filter" \
  --benchmark_min_time="$min_time" --benchmark_out="$out/memorization_benchmark.json" --benchmark_out_format=json

echo "=== 4. summary ($device)"
python3 - "$out" "$steps" "$samples" "$train_s" "$sample_s" <<'PY'
import csv, json, os, sys
out, steps, samples, train_s, sample_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
rows = list(csv.DictReader(open(os.path.join(out, "run", "loss.csv"))))
ratio = json.load(open(os.path.join(out, "ratio", "report.json")))
def find(d, key):
    if isinstance(d, dict):
        if key in d: return d[key]
        for v in d.values():
            r = find(v, key)
            if r is not None: return r
    return None
print(f"train: {steps} steps, last logged {float(rows[-1]['images_per_s']):.0f} images/s, loss {float(rows[-1]['loss']):.4f}; tool wall {train_s:.1f} s")
print(f"sample: {samples} images in {sample_s:.1f} s (tool wall, with start-up) = {samples / sample_s:.1f} images/s")
print(f"memorization ratio of the samples: {find(ratio, 'ratio')}")
bench = []
for name in ("train_step_benchmark.json", "memorization_benchmark.json"):
    bench += [b for b in json.load(open(os.path.join(out, name)))["benchmarks"] if not b.get("error_occurred")]
gemm = max((b["FLOPS"] for b in bench if b["name"].startswith("BM_Gemm")), default=0)
print(f"GEMM rate (best BM_Gemm, float32): {gemm / 1e12:.2f} TFLOP/s")
print(f"{'benchmark':<58} {'ms':>9} {'images/s':>10} {'TFLOP/s':>8} {'÷GEMM':>7}")
for b in bench:
    flops = b.get("FLOPS", b.get("TFLOPS", 0) * 1e12)
    ips = b.get("images/s")
    ms = b["real_time"] if b.get("time_unit") == "ms" else b["real_time"] / 1e6
    print(f"{b['name'] + ' ' + b.get('label', ''):<58} {ms:9.2f} {'' if ips is None else f'{ips:10.1f}':>10} "
          f"{flops / 1e12:8.3f} {'' if not gemm else f'{flops / gemm:7.3f}':>7}")
PY
echo "gpu_smoke: done in $(elapsed "$t_all") s"
