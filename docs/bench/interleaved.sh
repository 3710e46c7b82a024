#!/bin/bash
# Interleaved same-minute comparison: for each suite, PyTorch (stock and tuned
# glibc malloc) and then llv run back to back, and the whole set is repeated
# ROUNDS times, so that both sides see the same load on a shared machine.
# Usage: LLV=target/release/llv OUT=/tmp/run bash docs/bench/interleaved.sh
# then:  python3 docs/bench/best_of_rounds.py /tmp/run
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
B=${SHARED_BENCH:-$HERE/../../../shared/bench}
LLV=${LLV:-$HERE/../../target/release/llv}
O=${OUT:?set OUT to an empty directory}
ROUNDS=${ROUNDS:-3}
TUNED=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184
mkdir -p "$O"
date -u +%FT%T > "$O/start.txt"
for r in $(seq 1 "$ROUNDS"); do
  for s in resnet20 mlp lstm hvp landscape lenet; do
    python3 "$B/torch_ref.py" --suites $s --threads 2 --quick --label torch_default >> "$O/torch_default.jsonl" 2>> "$O/torch.err"
    GLIBC_TUNABLES=$TUNED python3 "$B/torch_ref.py" --suites $s --threads 2 --quick --label malloc_tuned >> "$O/torch_tuned.jsonl" 2>> "$O/torch.err"
    "$LLV" bench --case $s --quick --json --threads 2 >> "$O/llv.jsonl" 2>> "$O/llv.err"
  done
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 "$B/torch_ref.py" --suites gemm_numpy --threads 2 --quick --label numpy_env_unset >> "$O/numpy.jsonl" 2>> "$O/torch.err"
  "$LLV" bench --case gemm_llv --quick --json --threads 2 >> "$O/llv.jsonl" 2>> "$O/llv.err"
done
date -u +%FT%T > "$O/end.txt"
