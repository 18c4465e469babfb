#!/usr/bin/env bash
# Checks what `eventmap docs` writes with the real tools, and keeps the committed picture of
# the example's flowchart current:
#   1. `eventmap docs --check` over the example's three tables documented together
#      (mappings.yaml and examples/): docs/generated/ (with the system catalog system.md) and
#      examples/{search,notifications}/docs/generated/ are current;
#   2. the AsyncAPI documents of the example (docs/generated/asyncapi.yaml), of the
#      kitchen-sink table (tests/fixtures/kitchen, every field form), of the search example
#      (examples/search, a table that only consumes: receive operations) and of the example
#      with subscriptions added (a table that publishes and consumes its own events: shared
#      channels and messages) are valid for @asyncapi/parser, alone and with
#      @asyncapi/protobuf-schema-parser, which compiles each inlined .proto payload
#      (validate-asyncapi.cjs; with --receive, the last two must have receive operations);
#   3. the multi-file proto set of codegen-cli/tests/scale_fixture (SCALE_EVENTS events, 480 by
#      default, in 5 packages and 15 files with imports between them, proto2 and proto3,
#      well-known types, keywords as names; written by the example `scale_fixture`): its table
#      passes `eventmap check` and its AsyncAPI document passes both parsers, so every payload
#      schema, self-contained, compiles in the protobuf schema parser (which loads no import);
#   4. every Mermaid block of the five event catalogs (flowcharts, sequence diagrams) is parsed
#      and rendered by Mermaid's CLI (mmdc, on Debian's headless Chromium), one picture each,
#      and no picture is Mermaid's error picture ("Maximum text size in diagram exceeded",
#      "Syntax error in text": mmdc exits 0 on those);
#   5. docs/generated/flowchart.png is the rendering of the example's current flowchart: its
#      source is kept beside it in flowchart.mmd. `run.sh --update-png` renders both anew;
#      without it a flowchart that changed fails (PNG bytes differ between Chromium builds, so
#      the source is compared, not the picture).
#
# Installs when missing (idempotent; reinstalls only when package-lock.json changes): the npm
# packages pinned in package-lock.json, with `npm ci --ignore-scripts` into $DOCS_TOOLS_DIR
# (puppeteer's own browser download is skipped), and Debian's `chromium` (apt-get, as root).
#
# Environment (all optional): EVENTMAP_BIN (an eventmap binary; default: cargo build),
# SCALE_FIXTURE_BIN (the example `scale_fixture`; default: cargo build), SCALE_EVENTS (480),
# DOCS_TOOLS_DIR (default target/docs-tools), CHROMIUM (default /usr/bin/chromium),
# INSTALL_TIMEOUT (s per install step, default 900), BUILD_TIMEOUT (s, default 1800),
# STEP_TIMEOUT (s per tool run, default 180), EVENTMAP_PREBUILT (set: the two binaries under
# $CARGO_TARGET_DIR/debug are current, as after scripts/test's workspace build).
#
# Exit: 0 all checks pass, 1 a check failed, 2 could not run (install or build failed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

update_png=0
for arg in "$@"; do
  case "$arg" in
    --update-png) update_png=1 ;;
    *) echo "usage: $0 [--update-png]" >&2; exit 2 ;;
  esac
done

DOCS_TOOLS_DIR=${DOCS_TOOLS_DIR:-$repo/target/docs-tools}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
INSTALL_TIMEOUT=${INSTALL_TIMEOUT:-900}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-1800}
STEP_TIMEOUT=${STEP_TIMEOUT:-180}
generated=docs/generated

log() { echo "docs-tools: $*" >&2; }
die() { log "$*"; exit 2; }

work=$(mktemp -d -t eventmap-docs-tools.XXXXXX)
trap 'rm -rf "$work"' EXIT

# npm packages, pinned by package-lock.json; one install at a time per folder.
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed"
mkdir -p "$DOCS_TOOLS_DIR"
want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
(
  flock 9
  if [ "$(cat "$DOCS_TOOLS_DIR/.installed" 2>/dev/null)" != "$want" ] ||
    [ ! -x "$DOCS_TOOLS_DIR/node_modules/.bin/mmdc" ]; then
    log "installing the npm packages of package-lock.json into $DOCS_TOOLS_DIR"
    rm -f "$DOCS_TOOLS_DIR/.installed"
    cp "$here/package.json" "$here/package-lock.json" "$DOCS_TOOLS_DIR/"
    (cd "$DOCS_TOOLS_DIR" && PUPPETEER_SKIP_DOWNLOAD=1 timeout "$INSTALL_TIMEOUT" \
      npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    echo "$want" >"$DOCS_TOOLS_DIR/.installed"
  fi
) 9>"$DOCS_TOOLS_DIR/.lock" || die "npm ci failed"
tools=$DOCS_TOOLS_DIR/node_modules

# Debian's Chromium for mmdc (puppeteer's own download cannot be used here).
if [ ! -x "$CHROMIUM" ]; then
  [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null ||
    die "no Chromium at $CHROMIUM: install Debian's chromium or set CHROMIUM"
  log "installing chromium (apt-get)"
  if ! DEBIAN_FRONTEND=noninteractive timeout "$INSTALL_TIMEOUT" apt-get install -y -qq chromium >&2; then
    timeout "$INSTALL_TIMEOUT" apt-get update -qq >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive timeout "$INSTALL_TIMEOUT" apt-get install -y -qq chromium >&2 ||
      die "apt-get install chromium failed"
  fi
  [ -x "$CHROMIUM" ] || die "chromium installed, but not at $CHROMIUM: set CHROMIUM"
fi
cat >"$work/puppeteer.json" <<EOF
{ "executablePath": "$CHROMIUM", "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] }
EOF

# The eventmap binary and the fixture writer.
if [ -z "${EVENTMAP_PREBUILT:-}" ] && { [ -z "${EVENTMAP_BIN:-}" ] || [ -z "${SCALE_FIXTURE_BIN:-}" ]; }; then
  log "building eventmap and the example scale_fixture"
  timeout "$BUILD_TIMEOUT" cargo build -q -p eventmap-codegen --bin eventmap --example scale_fixture ||
    die "cargo build failed"
fi
target_dir=${CARGO_TARGET_DIR:-$repo/target}
EVENTMAP_BIN=${EVENTMAP_BIN:-$target_dir/debug/eventmap}
SCALE_FIXTURE_BIN=${SCALE_FIXTURE_BIN:-$target_dir/debug/examples/scale_fixture}
SCALE_EVENTS=${SCALE_EVENTS:-480}
[ -x "$EVENTMAP_BIN" ] || die "no eventmap binary at $EVENTMAP_BIN"
[ -x "$SCALE_FIXTURE_BIN" ] || die "no scale_fixture binary at $SCALE_FIXTURE_BIN"
"$EVENTMAP_BIN" --mappings tests/fixtures/kitchen/mappings.yaml docs --out "$work/kitchen" >/dev/null ||
  die "eventmap docs failed on the kitchen-sink table"
"$EVENTMAP_BIN" --mappings examples/search/mappings.yaml docs --out "$work/search" >/dev/null ||
  die "eventmap docs failed on the search example"
# Oneofs from domain enums, maps of messages, a recursive proto2 message over two packages;
# dotted CloudEvents types.
"$EVENTMAP_BIN" --mappings tests/fixtures/history/mappings.yaml docs --out "$work/history" >/dev/null ||
  die "eventmap docs failed on the history fixture"
"$EVENTMAP_BIN" --mappings tests/fixtures/cetype/mappings.yaml docs --out "$work/cetype" >/dev/null ||
  die "eventmap docs failed on the ce-type fixture"
# The example, subscribing to its own channel too (as codegen-cli/tests/docs.rs does).
mkdir -p "$work/both-table"
cp -r mappings.yaml proto "$work/both-table/"
cat >>"$work/both-table/mappings.yaml" <<'EOF'

subscriptions:
  projection:
    channel: order
    durable: ordering-projection
    events:
      OrderCreatedEvent: ordering.v1.OrderCreated
      OrderCompletedEvent: ordering.v1.OrderCompleted
    delivery: { deliver: new, max_deliver: 1, backoff: [] }
  audit:
    channel: order
    events:
      OrderCreatedEvent: ordering.v1.OrderCreated
EOF
"$EVENTMAP_BIN" --mappings "$work/both-table/mappings.yaml" docs --out "$work/both" >/dev/null ||
  die "eventmap docs failed on the example with subscriptions"

# The multi-file proto set at scale.
"$SCALE_FIXTURE_BIN" "$work/scale-table" "$SCALE_EVENTS" >/dev/null || die "scale_fixture failed"
"$EVENTMAP_BIN" --mappings "$work/scale-table/mappings.yaml" docs --out "$work/scale" >/dev/null ||
  die "eventmap docs failed on the multi-file set"
log "multi-file set: $SCALE_EVENTS events; asyncapi.yaml $(wc -c <"$work/scale/asyncapi.yaml") bytes, events.md $(wc -c <"$work/scale/events.md") bytes"

passed=0 failed=0
check() {
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1)); log "ok: $name"
  else
    failed=$((failed + 1)); log "FAILED: $name"
  fi
}
mmdc() {
  timeout "$STEP_TIMEOUT" "$tools/.bin/mmdc" --quiet -p "$work/puppeteer.json" "$@"
}
# What Mermaid draws instead of a diagram it refuses (mmdc still exits 0 for some).
mermaid_errors='Maximum text size in diagram exceeded|Syntax error in text|Parse error on line'
render_markdown() { # $1 events.md, $2 output folder: every Mermaid block, parsed and rendered
  local blocks svgs broken start
  start=$(date +%s)
  blocks=$(grep -c '^```mermaid$' "$1" || true)
  mkdir -p "$2" && mmdc -i "$1" -o "$2/events.md" >&2 || return 1
  svgs=$(find "$2" -name 'events-*.svg' | wc -l)
  [ "$blocks" -gt 0 ] && [ "$svgs" -eq "$blocks" ] ||
    { log "$1: $blocks Mermaid blocks, $svgs pictures"; return 1; }
  broken=$(grep -lE "$mermaid_errors" "$2"/events-*.svg || true)
  if [ -n "$broken" ]; then
    for svg in $broken; do
      log "$svg: $(grep -oE "$mermaid_errors" "$svg" | head -1)"
    done
    return 1
  fi
  log "$1: $svgs pictures rendered in $(($(date +%s) - start)) s"
}
flowchart_source() { # the first Mermaid block of $1
  awk '/^```mermaid$/ { inside = 1; next } inside && /^```$/ { exit } inside { print }' "$1"
}
flowchart_png() {
  flowchart_source "$generated/events.md" >"$work/flowchart.mmd"
  [ -s "$work/flowchart.mmd" ] || { log "no Mermaid block in $generated/events.md"; return 1; }
  if [ "$update_png" -eq 1 ]; then
    mmdc -i "$work/flowchart.mmd" -o "$work/flowchart.png" -b white -s 2 >&2 || return 1
    cp "$work/flowchart.png" "$generated/flowchart.png"
    cp "$work/flowchart.mmd" "$generated/flowchart.mmd"
    log "rendered $generated/flowchart.png"
  elif [ ! -s "$generated/flowchart.png" ] || ! cmp -s "$work/flowchart.mmd" "$generated/flowchart.mmd"; then
    diff -u "$generated/flowchart.mmd" "$work/flowchart.mmd" >&2 || true
    log "$generated/flowchart.png is stale: run tests/docs-tools/run.sh --update-png"
    return 1
  fi
}

check "eventmap docs --check (example: the three tables together)" \
  "$EVENTMAP_BIN" --mappings mappings.yaml --mappings examples/ docs --check
check "AsyncAPI parser (example, kitchen sink)" \
  env NODE_PATH="$tools" timeout "$STEP_TIMEOUT" node "$here/validate-asyncapi.cjs" \
  "$generated/asyncapi.yaml" "$work/kitchen/asyncapi.yaml"
check "AsyncAPI parser (search: consuming only; example with subscriptions)" \
  env NODE_PATH="$tools" timeout "$STEP_TIMEOUT" node "$here/validate-asyncapi.cjs" \
  --receive "$work/search/asyncapi.yaml" "$work/both/asyncapi.yaml"
check "Mermaid blocks of the example's catalog" render_markdown "$generated/events.md" "$work/render-example"
check "Mermaid blocks of the example's system catalog" render_markdown "$generated/system.md" "$work/render-system"
check "Mermaid blocks of the committed search catalog (its producer drawn)" \
  render_markdown examples/search/docs/generated/events.md "$work/render-search-committed"
check "AsyncAPI parser (the committed documents of search and notifications, naming their producer)" \
  env NODE_PATH="$tools" timeout "$STEP_TIMEOUT" node "$here/validate-asyncapi.cjs" \
  --receive examples/search/docs/generated/asyncapi.yaml examples/notifications/docs/generated/asyncapi.yaml
check "Mermaid blocks of the kitchen sink's catalog" render_markdown "$work/kitchen/events.md" "$work/render-kitchen"
check "Mermaid blocks of the search example's catalog" render_markdown "$work/search/events.md" "$work/render-search"
check "Mermaid blocks of the catalog with subscriptions" render_markdown "$work/both/events.md" "$work/render-both"
check "AsyncAPI parser, alone and with the protobuf schema parser (history: oneofs, maps, recursion; dotted ce-types)" \
  env NODE_PATH="$tools" timeout "$STEP_TIMEOUT" node "$here/validate-asyncapi.cjs" \
  "$work/history/asyncapi.yaml" "$work/cetype/asyncapi.yaml"
check "Mermaid blocks of the history's catalog" render_markdown "$work/history/events.md" "$work/render-history"
check "eventmap check (multi-file set, $SCALE_EVENTS events)" \
  "$EVENTMAP_BIN" --mappings "$work/scale-table/mappings.yaml" check
check "AsyncAPI parser, alone and with the protobuf schema parser (multi-file set, $SCALE_EVENTS events)" \
  env NODE_PATH="$tools" timeout "$STEP_TIMEOUT" node "$here/validate-asyncapi.cjs" "$work/scale/asyncapi.yaml"
check "Mermaid blocks of the multi-file set's catalog" render_markdown "$work/scale/events.md" "$work/render-scale"
check "flowchart picture ($generated/flowchart.png)" flowchart_png

echo "docs-tools: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
