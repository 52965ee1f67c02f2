#!/usr/bin/env bash
# OFREP single-flag evaluations, vexil against flagd, by evaluations per
# CPU-second of the server process: the same load generator (cmd/vexil-load),
# the same bodies, the same flags (the ten-rule `targeting` and the
# rollout-only `rollout_20`, bench/'s scenarios 2 and 3), in interleaved
# rounds so that the machine's load falls on both alike.
#
#   bench/peer.sh [-rounds N] [vexil-load flags...]   e.g. bench/peer.sh -rounds 3 -duration 5s
#
# flagd is built from its Go module (github.com/open-feature/flagd/flagd
# v0.11.2) in a temporary directory, or taken from $FLAGD_BIN; none of its
# code is kept. It listens on every interface, so both servers and the load
# run in a network namespace of their own with only loopback up (unshare -n,
# which needs root). Linux only: the CPU times come from /proc.
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")"

if [ "${1:-}" = --inside ]; then
	# In the namespace: $2 is the work directory with the binaries.
	work=$2
	shift 2
	rounds=3
	if [ "${1:-}" = -rounds ]; then rounds=$2; shift 2; fi
	ip link set lo up
	pids=()
	cleanup() {
		for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	}
	trap cleanup EXIT
	ulimit -n 65536 2>/dev/null || true

	token="vxl_load_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
	VEXIL_BOOTSTRAP_TOKEN=$token "$work/vexil" serve --addr 127.0.0.1:18080 --db "$work/vexil.db" \
		--flags flags.yaml --env prod >"$work/vexil.log" 2>&1 &
	vexil=$!
	pids+=("$vexil")
	"$work/flagd" start --uri "file:$work/flagd.json" --port 18013 --ofrep-port 18016 \
		--management-port 18014 --sync-port 18015 >"$work/flagd.log" 2>&1 &
	flagd=$!
	pids+=("$flagd")
	# Generous readiness waits: the machine may be loaded.
	for _ in $(seq 600); do
		if curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"context":{"targetingKey":"u"}}' \
			http://127.0.0.1:18016/ofrep/v1/evaluate/flags/rollout_20; then break; fi
		sleep 0.2
	done
	for r in $(seq "$rounds"); do
		echo "== round $r: vexil"
		VEXIL_TOKEN=$token "$work/vexil-load" -server http://127.0.0.1:18080 -server-pid "$vexil" -single-only "$@" |
			tee -a "$work/vexil.out"
		echo "== round $r: flagd"
		"$work/vexil-load" -peer flagd -server http://127.0.0.1:18016 -server-pid "$flagd" "$@" |
			tee -a "$work/flagd.out"
	done
	echo
	echo "evaluations per server CPU-second, median of $rounds rounds (each round's figure in brackets):"
	for flag in targeting rollout_20; do
		med() { grep "single flag $flag " "$1" | sed 's/.*, \([0-9]*\) req per CPU-s.*/\1/' | sort -n | tee "$1.$flag" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
		v=$(med "$work/vexil.out")
		f=$(med "$work/flagd.out")
		printf '%-12s vexil %8s [%s]  flagd %8s [%s]  %sx\n' "$flag" "$v" "$(paste -sd' ' "$work/vexil.out.$flag")" \
			"$f" "$(paste -sd' ' "$work/flagd.out.$flag")" "$(awk -v v="$v" -v f="$f" 'BEGIN {printf "%.1f", v/f}')"
	done
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd .. && go build -o "$work/vexil" ./cmd/vexil)
go build -o "$work/vexil-load" ./cmd/vexil-load
go run ./cmd/flagd-flags >"$work/flagd.json"
if [ -n "${FLAGD_BIN:-}" ]; then
	cp "$FLAGD_BIN" "$work/flagd"
else
	# Only this version is served by the module proxy here; its go.sum
	# entries are not in the checksum database.
	mkdir "$work/flagd-build"
	(
		cd "$work/flagd-build"
		printf 'module flagdpeer\n\ngo 1.24\n' >go.mod
		export GONOSUMDB=github.com/open-feature,buf.build GOFLAGS=-mod=mod
		go get github.com/open-feature/flagd/flagd@v0.11.2
		go build -o "$work/flagd" github.com/open-feature/flagd/flagd
	)
fi
unshare -n "$self" --inside "$work" "$@"
