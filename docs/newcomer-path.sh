#!/usr/bin/env bash
# Times a newcomer's path: clone → go install → vexil serve → save a rule →
# evaluate it over OFREP. Usage: docs/newcomer-path.sh [REPO] [--cold]
# (--cold empties the build cache first, as on a machine that never built
# vexil; the module cache is used as it is). Port 8080 must be free; run it
# under `unshare -rn` (after `ip link set lo up`) to be sure.
set -euo pipefail
repo=${1:-https://github.com/vexilhq/vexil}
work=$(mktemp -d)
export GOBIN=$work/bin PATH=$work/bin:$PATH
if [ "${2:-}" = --cold ]; then export GOCACHE=$work/gocache; fi
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
t0=$(date +%s.%N)
stamp() { printf '%-28s %7.1f s\n' "$1" "$(echo "$(date +%s.%N) - $t0" | bc)"; }
git clone -q "$repo" "$work/vexil" && cd "$work/vexil"
stamp "git clone"
go install ./cmd/vexil
stamp "go install ./cmd/vexil"
VEXIL_BOOTSTRAP_TOKEN=vxl_newcomer-token-0123456789abcdef vexil serve > serve.log 2>&1 &
until curl -sfo /dev/null localhost:8080/readyz; do sleep 0.2; done
stamp "vexil serve ready"
export VEXIL_TOKEN=vxl_newcomer-token-0123456789abcdef
vexil rules put --env dev -f examples/rules.yaml --if-match 0 -m "demo rules" >/dev/null
stamp "rules saved"
curl -sf localhost:8080/ofrep/v1/evaluate/flags/new_report -H "Authorization: Bearer $VEXIL_TOKEN" \
    -d '{"context": {"targetingKey": "u-7", "role": "teacher", "country": "NZ"}}' | grep -q '"value":true'
stamp "rule evaluated over OFREP"
