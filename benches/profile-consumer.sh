#!/usr/bin/env bash
# Instructions per message of eventmap's consumers and of the raw async-nats pull consumers
# they are compared with, counted by callgrind (stable on a shared, noisy machine, unlike
# wall-clock time). BENCHMARKS.md, "Consumer prefetch and the per-message cost".
#
#   flock /tmp/eventmap-cargo.lock cargo bench -p eventmap-benches --bench broker --no-run
#   SCENARIO=8 ./benches/profile-consumer.sh target/release/deps/broker-<hash> [OUT_DIR]
#
# SCENARIO picks the pair of roles of the broker benchmark's `memory-child`:
#
# * `8` (default): scenario 8, `consumer` (`Consumer::run`, `double_ack(false)`, the generated
#   router) against `raw-consumer` (raw pull `messages()`, the `ce-type` header, typed `match`,
#   plain ack);
# * `3`: scenario 3, `deliveries` (`Consumer::deliveries` + `ack_unconfirmed`) against
#   `raw-consume` (raw pull `messages()`, decoded by subject, plain ack);
# * `all`: the four roles.
#
# It starts a private nats-server (NATS_SERVER_BIN, or scripts/nats-server-env), fills the
# ordering stream with 20,000 events (the broker benchmark's `memory-child publish` role), then
# runs each role over 10,000 and 20,000 events under `valgrind --tool=callgrind`; the
# difference of the two counts, divided by 10,000, is the cost per message without the
# start-up. The callgrind files stay in OUT_DIR (`<role>-<count>.cg`) for callgrind_annotate.
# Run it under the build lock (`flock /tmp/eventmap-cargo.lock`): it is CPU-heavy.
set -euo pipefail
bin=$(realpath "$1")
out=$(realpath -m "${2:-target/eventmap-bench/callgrind}")
cd "$(dirname "$0")/.."
[ -n "${NATS_SERVER_BIN:-}" ] || . scripts/nats-server-env
mkdir -p "$out"
store=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$NATS_SERVER_BIN" -js -a 127.0.0.1 -p "$port" -sd "$store" > "$out/nats-server.log" 2>&1 &
server=$!
trap 'kill "$server"; wait "$server" 2>/dev/null || true; rm -rf "$store"' EXIT
sleep 1
url="nats://127.0.0.1:$port"
"$bin" memory-child publish 20000 "$url" 1024 500 - > /dev/null
instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$out/$1-$2.cg" \
    "$bin" memory-child "$1" "$2" "$url" 1024 100 - > /dev/null 2> "$out/$1-$2.log"
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/$1-$2.log"
}
case "${SCENARIO:-8}" in
  8) roles="consumer raw-consumer" ;;
  3) roles="deliveries raw-consume" ;;
  all) roles="consumer raw-consumer deliveries raw-consume" ;;
  *) echo "SCENARIO must be 8, 3 or all" >&2; exit 2 ;;
esac
for role in $roles; do
  small=$(instructions "$role" 10000)
  large=$(instructions "$role" 20000)
  echo "$role: $(( (large - small) / 10000 )) instructions per message"
done
