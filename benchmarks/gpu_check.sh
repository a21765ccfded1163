#!/usr/bin/env bash
# Issue 5's GPU measurements in one short script for a session that is lent a GPU machine:
# each part runs under a time limit, 9 minutes in all at most (an estimated 6 on an H100;
# not yet run on one). Run it from the repository root there; it needs only a
# Python with torch, pandas, pyyaml, tqdm and scikit-image (no install: PYTHONPATH=src).
#
#   OUT=/some/folder benchmarks/gpu_check.sh         # CSVs and a log land in $OUT
#   WIDTH=512 STEPS=3 CHECK_STEPS=20 benchmarks/gpu_check.sh   # a dry run of the script on a CPU
#
# It measures the issue's three targets (our trainer vs the authors'-style loop on
# 256 -> 10,000 -> 256; ours vs the matmuls alone on 3072 -> 10,000 -> 3072; ensemble scaling
# 1-16 members), eager and under torch.compile, throughput in fp32/tf32/bf16, whether precision
# changes the science (a short sigma sweep), the paper-profile estimate from the measured
# throughput, and runs the GPU-only tests (no device sync in the step loop, device locks).
# Copy the CSVs into benchmarks/ and the numbers into docs/speed.md afterwards.
set -uo pipefail
OUT=${OUT:-benchmarks/gpu_check}
WIDTH=${WIDTH:-10000}
STEPS=${STEPS:-30}
CHECK_STEPS=${CHECK_STEPS:-2000}
mkdir -p "$OUT"
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 NOISESPARSE_ROOT=$PWD
LOG=$OUT/gpu_check.log
# ns SECONDS ARGS...: one noisesparse command under a time limit, its output kept in the log
ns() { local t=$1; shift; timeout "$t" python3 -m noisesparse "$@" 2>&1 | grep -v "^W[0-9]" | tee -a "$LOG"; }
step() { echo; echo "== $* ($(date -u +%H:%M:%S))" | tee -a "$LOG"; }

step machine
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"; } | tee -a "$LOG"

step "latent model 256 -> $WIDTH -> 256: ours vs reference vs matmuls, 1-16 members (tf32)"
ns 150 bench --in-dim 256 --width "$WIDTH" --steps "$STEPS" --members 1 2 4 8 16 \
    --compile --out "$OUT"

step "pixel model 3072 -> $WIDTH -> 3072 (tf32), the 1.3x-of-matmuls target"
ns 100 bench --in-dim 3072 --width "$WIDTH" --steps "$STEPS" --members 1 8 \
    --compile --out "$OUT"

for p in fp32 bf16; do
  step "pixel model in $p"
  ns 45 bench --in-dim 3072 --width "$WIDTH" --steps "$STEPS" --members 1 \
      --precision "$p" --out "$OUT"
done

step "does precision change the science? sigma sweep, $CHECK_STEPS steps, fp32/tf32/bf16"
ns 90 bench --precision-check --check-steps "$CHECK_STEPS" --out "$OUT"

step "paper-profile estimate from the latent-model bench"
csv=$(ls "$OUT"/bench_*_256x"$WIDTH"_tf32_*.csv 2>/dev/null | head -1)
[ -n "$csv" ] && ns 30 plan --profile paper --bench "$csv" | tail -22

step "GPU-only tests"
timeout 60 python3 -m pytest -q -p no:cacheprovider tests/test_devices.py \
    tests/test_training.py -k "test_devices or gpu or host_syncs" 2>&1 | tail -15 | tee -a "$LOG"
step done
