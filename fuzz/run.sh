#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 15) and fails on the
# first crash, timeout or out-of-memory. New inputs go to fuzz/corpus/
# (ignored by git); the committed seeds in fuzz/seeds/ are read, not written.
# Usage: bash fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-15}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "== fuzz $t for ${secs}s"
  log=$(mktemp)
  # -rss_limit_mb / -malloc_limit_mb: a parser that allocates what a hostile
  # header claims fails here; -timeout: no input may take seconds.
  if ! cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=1024 -malloc_limit_mb=512 -timeout=10 -max_len=65536 -print_final_stats=1 > "$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz $t: finding (see above; the input is in fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)" "$log" || true
  rm -f "$log"
done
echo "fuzz: ${#targets[@]} targets ran ${secs}s each without a finding"
