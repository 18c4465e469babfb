#!/usr/bin/env bash
# Build time of the derive macro crate (eventmap-macros) with the part of eventmap-codegen it
# compiles (`default-features = false`), at two revisions: BASE (default 2a28c33, before the
# documents and the breaking-change check moved behind the `cli` feature) and HEAD. Each
# revision gets a worktree and a target directory of its own, its dependencies built once;
# then, interleaved A B A B, RUNS rounds (default 3) of `cargo clean -p eventmap-codegen -p
# eventmap-macros` and a timed `cargo build -p eventmap-macros`. Prints each measurement and
# the medians. Run it on a quiet machine: ./benches/macro-build-time.sh [BASE]
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-2a28c33}
RUNS=${RUNS:-3}
work=$(mktemp -d -t eventmap-macro-build.XXXXXX)
cleanup() {
  git worktree remove --force "$work/base" 2>/dev/null || true
  git worktree remove --force "$work/head" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
git worktree add -q --detach "$work/base" "$BASE"
git worktree add -q --detach "$work/head" HEAD
for rev in base head; do
  (cd "$work/$rev" && CARGO_TARGET_DIR="$work/target-$rev" cargo build -q --locked -p eventmap-macros)
done
results="$work/results"
for _ in $(seq "$RUNS"); do
  for rev in base head; do
    (
      cd "$work/$rev"
      export CARGO_TARGET_DIR="$work/target-$rev"
      cargo clean -q -p eventmap-codegen -p eventmap-macros
      start=$(date +%s.%N)
      cargo build -q --locked -p eventmap-macros 2>/dev/null
      end=$(date +%s.%N)
      echo "$rev $(echo "$end - $start" | bc)"
    ) | tee -a "$results"
  done
done
echo "medians (s):"
for rev in base head; do
  grep "^$rev " "$results" | awk '{print $2}' | sort -n |
    awk -v k="$rev" '{a[NR]=$1} END {print k, a[int((NR+1)/2)], "min", a[1], "max", a[NR]}'
done
