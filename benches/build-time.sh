#!/usr/bin/env bash
# Build time of the ordering example with its converters from the committed generated module
# (`eventmap generate`) vs from #[derive(IntegrationEvent)], clean (the example crate only;
# its dependencies stay built) and incremental (after touching one domain file). Interleaved
# A B A B, RUNS rounds (default 3). Prints one line per measurement and the medians.
# Run it on a quiet machine: ./benches/build-time.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
cargo build -q -p ordering-example && cargo build -q -p ordering-example --features derive

measure() { # $1 label, rest: cargo args
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  cargo build -q -p ordering-example "$@"
  end=$(date +%s.%N)
  echo "$label $(echo "$end - $start" | bc)"
}

results=$(mktemp)
for _ in $(seq "$RUNS"); do
  for mode in cli derive; do
    flags=(); [ "$mode" = derive ] && flags=(--features derive)
    cargo clean -q -p ordering-example
    measure "clean-$mode" "${flags[@]}" | tee -a "$results"
    touch examples/ordering/src/domain/events.rs
    measure "incremental-$mode" "${flags[@]}" | tee -a "$results"
  done
done
echo "medians (s):"
for key in clean-cli clean-derive incremental-cli incremental-derive; do
  grep "^$key " "$results" | awk '{print $2}' | sort -n | awk -v k="$key" '{a[NR]=$1} END {print k, a[int((NR+1)/2)], "min", a[1], "max", a[NR]}'
done
rm -f "$results"
