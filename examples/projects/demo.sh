#!/usr/bin/env bash
# Two services' projects on one `vexil serve` started without --flags: each
# service's CI pushes its flags.yaml, rules are saved in each, and each is
# evaluated through OFREP with an sdk token of its own project. Exits
# non-zero at the first answer that is not the one expected.
#
#   examples/projects/demo.sh            (from the repository's root)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/vexil" "$root/cmd/vexil"
vexil() { "$work/vexil" "$@"; }

port=${VEXIL_DEMO_PORT:-18089}
export VEXIL_SERVER=http://127.0.0.1:$port VEXIL_TOKEN=vxl_demo_admin_token_0123456789abcdef
# No flags.yaml where it starts and no --flags: projects bring their own.
(cd "$work" && VEXIL_BOOTSTRAP_TOKEN=$VEXIL_TOKEN exec "$work/vexil" serve --addr 127.0.0.1:$port --db "$work/vexil.db" --env dev --env prod) >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -fs "$VEXIL_SERVER/readyz" >/dev/null && break; sleep 0.2; done

# Each service's flags.yaml; the demo edits its own copy of shop's.
cp "$root/examples/projects/shop.yaml" "$root/examples/projects/classroom.yaml" "$work/"

vexil definitions push --project shop -f "$work/shop.yaml" -m "shop CI"
vexil definitions push --project classroom -f "$work/classroom.yaml" -m "classroom CI"
vexil projects list

printf 'rules:\n  beta:\n    filter: attr:customer = "c-1"\n    variants: {checkout_v2: true}\n' >"$work/shop-rules.yaml"
printf 'rules:\n  teachers:\n    filter: attr:role = "teacher"\n    variants: {workbook: guided}\n' >"$work/class-rules.yaml"
vexil rules put --project shop --env prod -f "$work/shop-rules.yaml" --if-match 0 -m "beta customer"
vexil rules put --project classroom --env prod -f "$work/class-rules.yaml" --if-match 0 -m "teachers guided"

shop_sdk=$(vexil token create --name shop-web --role sdk --project shop --env prod 2>/dev/null)
class_sdk=$(vexil token create --name classroom-web --role sdk --project classroom --env prod 2>/dev/null)
ofrep() { # token flag body [curl options]
  local token=$1 flag=$2 body=$3; shift 3
  curl -s "$@" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "$body" "$VEXIL_SERVER/ofrep/v1/evaluate/flags/$flag"
}
expect() { case "$2" in *"$3"*) echo "ok: $1";; *) echo "FAILED: $1: $2" >&2; exit 1;; esac; }

expect "shop: checkout_v2 for c-1" "$(ofrep "$shop_sdk" checkout_v2 '{"context":{"targetingKey":"c-1"}}')" '"value":true'
expect "shop: checkout_v2 for c-2" "$(ofrep "$shop_sdk" checkout_v2 '{"context":{"targetingKey":"c-2"}}')" '"value":false'
expect "classroom: workbook for a teacher" "$(ofrep "$class_sdk" workbook '{"context":{"targetingKey":"u","role":"teacher"}}')" '"value":"guided"'
expect "the shop token cannot read classroom" "$(ofrep "$shop_sdk" workbook '{"context":{}}' -H 'Vexil-Project: classroom')" 'GENERAL'

# A flag added by a push is usable by the next save, without a restart.
printf '  express: {default: false, client: true}\n' >>"$work/shop.yaml"
vexil definitions push --project shop -f "$work/shop.yaml" -m "express checkout"
printf 'rules:\n  fast:\n    filter: attr:customer = "c-1"\n    variants: {checkout_v2: true, express: true}\n' >"$work/shop-rules.yaml"
vexil rules put --project shop --env prod -f "$work/shop-rules.yaml" --if-match 1 -m "express for c-1"
expect "shop: express for c-1" "$(ofrep "$shop_sdk" express '{"context":{"targetingKey":"c-1"}}')" '"value":true'

# Removing a flag the rules use is refused, naming the use.
sed -i.bak '/express/d' "$work/shop.yaml"
if vexil definitions push --project shop -f "$work/shop.yaml" 2>"$work/refusal.txt"; then
  echo "FAILED: a push removing a used flag was accepted" >&2; exit 1
fi
expect "removing express is refused" "$(cat "$work/refusal.txt")" 'prod:4:'
echo "demo passed"
