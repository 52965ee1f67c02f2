#!/usr/bin/env bash
# Approvals on one `vexil serve`: prod requires a second person. An
# editor's save becomes a change request and changes nothing, its author
# cannot approve it, another editor's approval applies it, and a kill
# switch still applies at once, audited as break glass. Exits non-zero at
# the first answer that is not the one expected.
#
#   examples/approvals/demo.sh     (VEXIL_BIN=path/to/vexil skips the build)
set -euo pipefail

source "$(dirname "$0")/../serve.sh" --env dev --env prod
export VEXIL_PROJECT=shop

vexil definitions push -f "$root/examples/projects/shop.yaml" -m "shop CI"
alice=$(vexil token create --name alice --role editor 2>/dev/null)
bob=$(vexil token create --name bob --role editor 2>/dev/null)
sdk=$(vexil token create --name shop-web --role sdk --env prod 2>/dev/null)

call() { # token method path [curl options]: the answer, then "HTTP <status>"
  local token=$1 method=$2 path=$3; shift 3
  curl -s -w ' HTTP %{http_code}' -X "$method" -H "Authorization: Bearer $token" "$@" "$VEXIL_SERVER/api/v1/projects/shop/envs/prod$path"
}
version() { vexil rules get --env prod 2>&1 >/dev/null; }

# An admin protects prod: one approval, by anyone but the author.
expect "prod requires approval" "$(call "$VEXIL_TOKEN" PUT /settings -H 'Content-Type: application/json' -d '{"require_approval": true, "min_approvals": 1}')" \
  '"require_approval":true' 'HTTP 200'

# alice saves: a change request, and prod's rules stay as they were.
answer=$(call "$alice" PUT /rules -H 'Content-Type: application/yaml' -H 'If-Match: "0"' -H 'Vexil-Message: beta for c-1' \
  --data-binary $'rules:\n  beta:\n    filter: attr:customer = "c-1"\n    variants: {checkout_v2: true}\n')
expect "alice's save is a change request" "$answer" '"state":"open"' 'HTTP 202'
change=$(sed -n 's/.*"change":\([0-9]*\).*/\1/p' <<<"$answer")
expect "prod did not change" "$(version)" 'prod version 0'
expect "the change is listed" "$(vexil changes list --env prod)" "$change" 'open' 'alice'

# alice cannot approve her own change; bob can, and it applies.
expect "alice's approval is refused" "$(call "$alice" POST "/changes/$change/approve" -d '{"comment": "lgtm"}')" \
  'cannot approve their own change' 'HTTP 403'
expect "prod still did not change" "$(version)" 'prod version 0'
expect "bob's approval applies it" "$(call "$bob" POST "/changes/$change/approve" -d '{"comment": "lgtm"}')" \
  '"state":"applied"' '"applied_version":1' 'HTTP 200'
expect "prod moved" "$(version)" 'prod version 1'
expect "c-1 gets checkout_v2" "$(curl -s -H "Authorization: Bearer $sdk" -H 'Vexil-Project: shop' -H 'Vexil-Environment: prod' \
  -d '{"context":{"targetingKey":"c-1"}}' "$VEXIL_SERVER/ofrep/v1/evaluate/flags/checkout_v2")" '"value":true'
expect "the version names alice, its audit entry bob" "$(vexil rules history --env prod)$(curl -s -H "Authorization: Bearer $VEXIL_TOKEN" \
  "$VEXIL_SERVER/api/v1/audit?project=shop&env=prod&action=save")" 'alice' 'beta for c-1' 'approved by bob'

# The kill switch never waits: it applies at once, as break glass.
expect "alice kills checkout_v2" "$(vexil kill checkout_v2 --env prod --reason 'incident 7' --token "$alice")" 'version 2'
expect "the kill is audited as break glass" "$(curl -s -H "Authorization: Bearer $VEXIL_TOKEN" \
  "$VEXIL_SERVER/api/v1/audit?project=shop&env=prod&break_glass=true")" '"action":"kill"' '"break_glass":true'
echo "demo passed"
