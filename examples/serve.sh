# Sourced by the walk-throughs (examples/*/demo.sh): builds vexil (unless
# VEXIL_BIN names one), starts `vexil serve` with the arguments given on a
# free port and an empty database, with VEXIL_TOKEN as its bootstrap admin
# token, and exports VEXIL_SERVER. It defines vexil, fail and expect; the
# server and the work directory go when the script exits.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'kill ${server:-} 2>/dev/null || true; rm -rf "$work"' EXIT
bin=${VEXIL_BIN:-}
if [ -z "$bin" ]; then
  bin=$work/vexil
  (cd "$root" && go build -o "$bin" ./cmd/vexil)
fi
vexil() { "$bin" "$@"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
expect() { # what answer wanted...: every wanted text must be in the answer
  local what=$1 answer=$2; shift 2
  for want; do case "$answer" in *"$want"*) ;; *) fail "$what: got $answer, want $want";; esac; done
  echo "ok: $what"
}

export VEXIL_TOKEN=vxl_demo_admin_token_0123456789abcdef
# A free port, read from the line that says where it listens. The log exists
# before the server starts: the background shell opens it only when it runs.
: >"$work/serve.log"
(cd "$work" && VEXIL_BOOTSTRAP_TOKEN=$VEXIL_TOKEN exec "$bin" serve --addr 127.0.0.1:0 --db "$work/vexil.db" "$@") >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 600); do
  VEXIL_SERVER=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/serve.log" | head -n 1)
  [ -n "$VEXIL_SERVER" ] || ! kill -0 $server 2>/dev/null && break
  sleep 0.1
done
[ -n "$VEXIL_SERVER" ] || fail "vexil serve did not start: $(cat "$work/serve.log")"
export VEXIL_SERVER
