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
# code is kept. $VEXIL_BASE_BIN, when set, is another vexil binary (say, the
# commit before a change) run in the same rounds, after this tree's vexil,
# so that a change is measured against the same flagd at the same load. It listens on every interface, so both servers and the load
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
	base=
	if [ -x "$work/vexil-base" ]; then
		VEXIL_BOOTSTRAP_TOKEN=$token "$work/vexil-base" serve --addr 127.0.0.1:18081 --db "$work/vexil-base.db" \
			--flags flags.yaml --env prod >"$work/vexil-base.log" 2>&1 &
		base=$!
		pids+=("$base")
	fi
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
		if [ -n "$base" ]; then
			echo "== round $r: vexil-base"
			VEXIL_TOKEN=$token "$work/vexil-load" -server http://127.0.0.1:18081 -server-pid "$base" -single-only "$@" |
				tee -a "$work/vexil-base.out"
		fi
		echo "== round $r: flagd"
		"$work/vexil-load" -peer flagd -server http://127.0.0.1:18016 -server-pid "$flagd" "$@" |
			tee -a "$work/flagd.out"
	done
	echo
	echo "evaluations per server CPU-second, median of $rounds rounds (each round's figure in brackets, in round order):"
	for flag in targeting rollout_20; do
		# Each round's figure, in order, to $1.$flag; the median printed.
		med() { grep "single flag $flag " "$1" | sed 's/.*, \([0-9]*\) req per CPU-s.*/\1/' | tee "$1.$flag" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
		# Each round's ratio of $1's figure to flagd's.
		ratios() { paste "$1" "$work/flagd.out.$flag" | awk '{printf "%s%.1f", (NR > 1 ? " " : ""), $1/$2}'; }
		f=$(med "$work/flagd.out")
		for who in vexil vexil-base; do
			[ -f "$work/$who.out" ] || continue
			v=$(med "$work/$who.out")
			printf '%-11s %-10s %8s [%s]  flagd %8s [%s]  %sx [%s]\n' "$flag" "$who" "$v" "$(paste -sd' ' "$work/$who.out.$flag")" \
				"$f" "$(paste -sd' ' "$work/flagd.out.$flag")" "$(awk -v v="$v" -v f="$f" 'BEGIN {printf "%.1f", v/f}')" \
				"$(ratios "$work/$who.out.$flag")"
		done
	done
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd .. && go build -o "$work/vexil" ./cmd/vexil)
go build -o "$work/vexil-load" ./cmd/vexil-load
go run ./cmd/flagd-flags >"$work/flagd.json"
if [ -n "${VEXIL_BASE_BIN:-}" ]; then
	cp "$VEXIL_BASE_BIN" "$work/vexil-base"
fi
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
