#!/usr/bin/env bash
# The benchmark suite, one command:
#
#   ./benches/run.sh [broker options: --rounds N | --quick | --only SCENARIO | --no-memory]
#
# 1. In process (criterion, `benches/benches/in_process.rs`): convert + dispatch + encode one
#    event through the generated code vs hand-written glue, for the four events of the
#    ordering example and a 50-field event generated at build time.
# 2. Broker (`benches/benches/broker.rs`): eventmap's JetStream publisher (one at a time and
#    `publish_all`) and subscription vs raw async-nats, interleaved, on a current-thread and a
#    multi-thread tokio runtime, on a private `nats-server -js` (free loopback port, temporary
#    file store) it starts and stops; the outbox relay (PostgreSQL at DATABASE_URL, default
#    postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable: no TLS on loopback, a fresh
#    schema per run, dropped after) draining
#    100,000 rows vs raw pipelined publishing of the same messages, and its end-to-end latency
#    at 1,000 events/s; the declared-subscription consumer (`Consumer::run` with a generated
#    subscription, 200,000 events, confirmed and unconfirmed acks, and with the PostgreSQL inbox)
#    vs a raw pull consumer; a raw pull consumer of 4, 20 and 100 event types filtered on one
#    subject per type vs one wildcard (100,000 events); then the peak memory of a publisher,
#    the consumers and the relay at 10,000 and 200,000 events.
#
# It holds /tmp/eventmap-cargo.lock (the workspace's build lock) for the whole run, so that
# nobody compiles on this machine while it measures: do not wrap it in `flock` yourself (or
# set EVENTMAP_BENCH_LOCKED=1 if you already hold the lock). It installs a nats-server >= 2.10
# when none is found (scripts/nats-server-env). The tables are printed at the end and kept in
# target/eventmap-bench/; the logs (criterion's output, each broker run) are there too. The
# summary table (every figure with a target: scenario, eventmap, baseline, ratio, target, met)
# comes first, also kept in target/eventmap-bench/summary.md.
# About 7 to 11 minutes once built (411 s on an AMD EPYC machine on 2026-12-06, 609 s on an
# Intel Xeon one and 637 s on an AMD EPYC one on 2026-12-07); a first build adds about 6 (2
# cores).
set -euo pipefail
cd "$(dirname "$0")/.."

# The options are checked before anything is built or measured: a typo must not cost the
# in-process run first.
args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help)
      sed -n '2,/^set -euo pipefail$/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
      exit 0 ;;
    --quick|--no-memory) shift ;;
    --rounds|--only)
      [ $# -ge 2 ] || { echo "benches/run.sh: $1 needs a value (--help)" >&2; exit 2; }
      shift 2 ;;
    *) echo "benches/run.sh: unknown option $1 (--help)" >&2; exit 2 ;;
  esac
done
set -- "${args[@]}"

if [ -z "${EVENTMAP_BENCH_LOCKED:-}" ]; then
  exec env EVENTMAP_BENCH_LOCKED=1 flock /tmp/eventmap-cargo.lock "$0" "$@"
fi

. scripts/nats-server-env
out="$PWD/target/eventmap-bench"
mkdir -p "$out"
started=$(date +%s)

echo "== building (cargo bench --no-run, bench profile)" >&2
cargo bench --locked -p eventmap-benches --no-run >&2

machine() {
  echo "- cores: $(nproc) ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
  echo "- memory: $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "- kernel: $(uname -r)"
  echo "- rustc: $(rustc --version)"
  echo "- nats-server: $("$NATS_SERVER_BIN" --version) ($NATS_SERVER_BIN)"
  echo "- JetStream store: file storage in a temporary directory under ${TMPDIR:-/tmp} ($(df -T "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $2 " on " $1}'))"
  local pg="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}" pgdata
  pgdata=$(psql "$pg" -Atc 'SHOW data_directory' 2>/dev/null || true)
  echo "- PostgreSQL: $(psql "$pg" -Atc 'SHOW server_version' 2>/dev/null || echo '(psql not available)'), synchronous_commit $(psql "$pg" -Atc 'SHOW synchronous_commit' 2>/dev/null), TLS $(psql "$pg" -Atc 'SELECT CASE WHEN ssl THEN version ELSE $$off$$ END FROM pg_stat_ssl WHERE pid = pg_backend_pid()' 2>/dev/null), data on $( [ -n "$pgdata" ] && df -T "$pgdata" 2>/dev/null | awk 'NR == 2 {print $2 " on " $1}')"
  echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
}
machine > "$out/machine.md"

echo "== in process (criterion)" >&2
rm -f "$out/summary-in_process.md" "$out/summary-broker.md"
EVENTMAP_BENCH_TABLE="$out/in_process.md" EVENTMAP_BENCH_SUMMARY="$out/summary-in_process.md" \
  cargo bench --locked -p eventmap-benches --bench in_process > "$out/in_process.log" 2>&1 \
  || { tail -40 "$out/in_process.log" >&2; exit 1; }

echo "== broker ($("$NATS_SERVER_BIN" --version))" >&2
cargo bench --locked -p eventmap-benches --bench broker -- --table "$out/broker.md" \
  --summary "$out/summary-broker.md" "$@" \
  > "$out/broker.log" 2>&1 || { tail -40 "$out/broker.log" >&2; exit 1; }

echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.md"
echo "- suite took $(( $(date +%s) - started )) s (build included)" >> "$out/machine.md"

{
  echo "## Summary ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  printf '%s' "| scenario | eventmap | baseline | ratio | target | met |
|---|---|---|---|---|---|
"
  cat "$out/summary-in_process.md" "$out/summary-broker.md" 2>/dev/null || true
} > "$out/summary.md"
echo
cat "$out/summary.md"
echo
echo "## Machine"
echo
cat "$out/machine.md"
echo
echo "## In process: generated vs hand-written (ns per event)"
echo
cat "$out/in_process.md"
echo
echo "## Broker: eventmap vs raw async-nats"
echo
cat "$out/broker.md"
