#!/usr/bin/env bash
# Two services' projects on one `vexil serve` started without --flags: each
# service's CI pushes its flags.yaml, rules are saved in each, and each is
# evaluated through OFREP with an sdk token of its own project. Exits
# non-zero at the first answer that is not the one expected.
#
#   examples/projects/demo.sh     (VEXIL_BIN=path/to/vexil skips the build)
set -euo pipefail

# No flags.yaml where it starts and no --flags: projects bring their own.
source "$(dirname "$0")/../serve.sh" --env dev --env prod

# Each service's flags.yaml; the demo edits its own copy of shop's.
cp "$root/examples/projects/shop.yaml" "$root/examples/projects/classroom.yaml" "$work/"

vexil definitions push --project shop -f "$work/shop.yaml" -m "shop CI"
vexil definitions push --project classroom -f "$work/classroom.yaml" -m "classroom CI"

printf 'rules:\n  beta:\n    filter: attr:customer = "c-1"\n    variants: {checkout_v2: true}\n' >"$work/shop-rules.yaml"
printf 'rules:\n  teachers:\n    filter: attr:role = "teacher"\n    variants: {workbook: guided}\n' >"$work/class-rules.yaml"
vexil rules put --project shop --env prod -f "$work/shop-rules.yaml" --if-match 0 -m "beta customer"
vexil rules put --project classroom --env prod -f "$work/class-rules.yaml" --if-match 0 -m "teachers guided"

shop_sdk=$(vexil token create --name shop-web --role sdk --project shop --env prod 2>/dev/null)
class_sdk=$(vexil token create --name classroom-web --role sdk --project classroom --env prod 2>/dev/null)
ofrep() { # token flag body [curl options]: the answer, then "HTTP <status>"
  local token=$1 flag=$2 body=$3; shift 3
  curl -s -w ' HTTP %{http_code}' "$@" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "$body" "$VEXIL_SERVER/ofrep/v1/evaluate/flags/$flag"
}

expect "both projects are listed" "$(vexil projects list)" 'classroom CI' 'shop CI'
expect "shop: checkout_v2 for c-1" "$(ofrep "$shop_sdk" checkout_v2 '{"context":{"targetingKey":"c-1"}}')" '"value":true' 'HTTP 200'
expect "shop: checkout_v2 for c-2" "$(ofrep "$shop_sdk" checkout_v2 '{"context":{"targetingKey":"c-2"}}')" '"value":false' 'HTTP 200'
expect "classroom: workbook for a teacher" "$(ofrep "$class_sdk" workbook '{"context":{"targetingKey":"u","role":"teacher"}}')" '"value":"guided"' 'HTTP 200'
expect "classroom: workbook for a student" "$(ofrep "$class_sdk" workbook '{"context":{"targetingKey":"u","role":"student"}}')" '"value":"classic"' 'HTTP 200'
# Each token reads its own project only.
expect "the classroom token has no checkout_v2" "$(ofrep "$class_sdk" checkout_v2 '{"context":{"targetingKey":"c-1"}}')" 'FLAG_NOT_FOUND' 'HTTP 404'
expect "the shop token cannot read classroom" "$(ofrep "$shop_sdk" workbook '{"context":{}}' -H 'Vexil-Project: classroom')" 'may not read project' 'HTTP 403'

# A flag added by a push is usable by the next save, without a restart.
printf '  express: {default: false, client: true}\n' >>"$work/shop.yaml"
vexil definitions push --project shop -f "$work/shop.yaml" -m "express checkout"
printf 'rules:\n  fast:\n    filter: attr:customer = "c-1"\n    variants: {checkout_v2: true, express: true}\n' >"$work/shop-rules.yaml"
vexil rules put --project shop --env prod -f "$work/shop-rules.yaml" --if-match 1 -m "express for c-1"
expect "shop: express for c-1" "$(ofrep "$shop_sdk" express '{"context":{"targetingKey":"c-1"}}')" '"value":true' 'HTTP 200'

# Removing a flag the rules use is refused, naming the use.
sed -i.bak '/express/d' "$work/shop.yaml"
if vexil definitions push --project shop -f "$work/shop.yaml" 2>"$work/refusal.txt"; then
  fail "a push removing a used flag was accepted"
fi
expect "removing express is refused" "$(cat "$work/refusal.txt")" 'prod:4:'
echo "demo passed"
