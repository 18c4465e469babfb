#!/usr/bin/env bash
# Cross-language check: a Python consumer (nats-py + protobuf classes generated from proto/)
# listens on a private nats-server while `ordering-example demo` publishes, and checks every
# integration event it sees (CloudEvents headers, payloads, per-order ids and totals); see
# listen.py. Exits with the listener's status (0: all four event types seen, all checks pass).
#
# Environment (all optional): BUILD_TIMEOUT (s, default 1800), DEMO_TIMEOUT (s, default 120), SETTLE (s of
# quiet after the demo before the listener concludes, default 2), PYTHON (default python3),
# EVENTMAP_PREBUILT (set: use the ordering-example binary under $CARGO_TARGET_DIR/debug as built,
# as scripts/test does after its workspace build).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

PYTHON=${PYTHON:-python3}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-1800}
DEMO_TIMEOUT=${DEMO_TIMEOUT:-120}
SETTLE=${SETTLE:-2}

log() { echo "cross-language: $*" >&2; }

work=$(mktemp -d -t eventmap-xlang.XXXXXX)
build_pid="" server_pid="" listener_pid="" demo_pid=""
tree() {
  # $1 and its descendants (timeout does not pass SIGTERM on to its children).
  local child
  echo "$1"
  for child in $(pgrep -P "$1" 2>/dev/null); do tree "$child"; done
}
cleanup() {
  local pid pids=""
  for pid in $build_pid $demo_pid $listener_pid $server_pid; do pids="$pids $(tree "$pid")"; done
  [ -n "${pids// /}" ] || { rm -rf "$work"; return; }
  kill $pids 2>/dev/null || true
  for pid in $pids; do
    # Bounded wait: SIGKILL what is still there after ~5 s.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Python dependencies.
if ! "$PYTHON" -c 'import nats, google.protobuf, grpc_tools' 2>/dev/null; then
  log "installing nats-py protobuf grpcio-tools"
  timeout 600 "$PYTHON" -m pip install --quiet --disable-pip-version-check \
    nats-py protobuf grpcio-tools >&2
fi

# nats-server >= 2.10 ($NATS_SERVER_BIN).
. "$repo/scripts/nats-server-env"

# Build first, so the listener's clock does not include compiling.
if [ -z "${EVENTMAP_PREBUILT:-}" ]; then
  log "building ordering-example"
  timeout "$BUILD_TIMEOUT" cargo build -q -p ordering-example &
  build_pid=$!
  wait "$build_pid"
  build_pid=""
fi

# Private server on a free loopback port.
port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/js"
"$NATS_SERVER_BIN" -js -a 127.0.0.1 -p "$port" -sd "$work/js" >"$work/server.log" 2>&1 &
server_pid=$!
for i in $(seq 100); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    log "nats-server exited:"; cat "$work/server.log" >&2; exit 2
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  [ "$i" -eq 100 ] && { log "nats-server not listening on $port after 10 s"; exit 2; }
  sleep 0.1
done
url="nats://127.0.0.1:$port"
log "nats-server $("$NATS_SERVER_BIN" --version | sed 's/.* //') at $url"

# Listener: its own timeout covers waiting for the lock, the demo and the settling.
listen_timeout=$((DEMO_TIMEOUT + 30))
timeout $((listen_timeout + 30)) "$PYTHON" "$here/listen.py" \
  --server "$url" --timeout "$listen_timeout" --settle "$SETTLE" \
  --ready-file "$work/ready" --done-file "$work/done" --demo-log "$work/demo.out" &
listener_pid=$!
for i in $(seq 600); do
  [ -e "$work/ready" ] && break
  if ! kill -0 "$listener_pid" 2>/dev/null; then
    wait "$listener_pid" && status=0 || status=$?
    log "listener exited before subscribing (status $status)"; exit "$((status == 0 ? 2 : status))"
  fi
  [ "$i" -eq 600 ] && { log "listener not subscribed after 60 s"; exit 2; }
  sleep 0.1
done

# The example, publishing on that server. Its stdout goes to the terminal and to demo.out.
log "running ordering-example demo"
NATS_URL="$url" timeout "$DEMO_TIMEOUT" "${CARGO_TARGET_DIR:-$repo/target}/debug/ordering-example" demo >"$work/demo.out" &
demo_pid=$!
wait "$demo_pid" && demo_status=0 || demo_status=$?
demo_pid=""
sed 's/^/demo: /' "$work/demo.out"
[ "$demo_status" -eq 0 ] || log "ordering-example demo exited with status $demo_status"
echo "$demo_status" >"$work/done.tmp" && mv "$work/done.tmp" "$work/done"

wait "$listener_pid" && status=0 || status=$?
listener_pid=""
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=""
exit "$status"
