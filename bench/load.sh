#!/usr/bin/env bash
# Load test of `vexil serve` over loopback: OFREP evaluations/s and server CPU per request (one flag and
# bulk), SDK config fetches/s answered 304 from their ETag, and the time a save
# takes to reach 1,000 Server-Sent Events clients. It builds vexil, starts a
# server on a fresh SQLite file with bench/flags.yaml, runs cmd/vexil-load
# against it and stops it. Everything stays on 127.0.0.1.
#
#   bench/load.sh [vexil-load flags...]     e.g. bench/load.sh -duration 5s -conns 16
#
# VEXIL_LOAD_ADDR picks the address (default 127.0.0.1:18080).
set -euo pipefail
cd "$(dirname "$0")"

addr=${VEXIL_LOAD_ADDR:-127.0.0.1:18080}
case $addr in
127.*|localhost:*) ;;
*) echo "load.sh: $addr is not a loopback address" >&2; exit 2 ;;
esac
# 1,000 streams need 1,000 descriptors on each side.
ulimit -n 65536 2>/dev/null || ulimit -n 4096

work=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

(cd .. && go build -o "$work/vexil" ./cmd/vexil)
go build -o "$work/vexil-load" ./cmd/vexil-load

token="vxl_load_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
VEXIL_BOOTSTRAP_TOKEN=$token "$work/vexil" serve --addr "$addr" --db "$work/vexil.db" \
	--flags flags.yaml --env prod >"$work/serve.log" 2>&1 &
pid=$!

if ! VEXIL_TOKEN=$token "$work/vexil-load" -server "http://$addr" -server-pid "$pid" -env prod -rules rules.yaml "$@"; then
	echo "load.sh: the load run failed; the server said:" >&2
	tail -n 20 "$work/serve.log" >&2
	exit 1
fi
