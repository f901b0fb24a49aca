#!/usr/bin/env bash
# Smoke test of the compose stack, for a machine with Docker:
#   docker compose up -d --build && scripts/smoke.sh
# Creates a tenant and an API key through the control plane, then calls the gateway with curl
# and with the official openai client, and shows a 401, a 429 and a redacted answer.
set -euo pipefail
GW="${GATEWAY_URL:-http://localhost:8000}"
CP="${CONTROL_PLANE_URL:-http://localhost:9000}"
TOKEN="${ADMIN_TOKEN:-$(docker compose exec -T control-plane cat /data/admin-token 2>/dev/null || true)}"
[ -n "$TOKEN" ] || { echo "set ADMIN_TOKEN (or let the control plane write /data/admin-token)"; exit 1; }
auth=(-H "authorization: Bearer $TOKEN" -H 'content-type: application/json')
step() { printf '\n== %s\n' "$*"; }

step "wait for the gateway and the control plane"
for _ in $(seq 1 60); do curl -fsS "$CP/healthz" >/dev/null 2>&1 && curl -s -o /dev/null "$GW" && break; sleep 2; done

step "create a tenant on the strict tier (tiny request limit) and an API key"
suffix=$RANDOM
tenant=$(curl -fsS "${auth[@]}" -X POST "$CP/v1/tenants" -d "{\"name\":\"smoke-$suffix\",\"tier\":\"strict\",\"limits\":{\"requests_per_minute\":3}}")
tenant_id=$(node -e 'console.log(JSON.parse(process.argv[1]).id)' "$tenant")
key=$(curl -fsS "${auth[@]}" -X POST "$CP/v1/tenants/$tenant_id/keys" -d '{"name":"smoke"}' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).secret))')
curl -fsS "${auth[@]}" -X POST "$CP/v1/config/push" >/dev/null
echo "tenant $tenant_id, key ${key:0:12}…"

body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}'
step "no key → 401"
curl -s -o /dev/null -w '%{http_code}\n' "$GW/v1/chat/completions" -H 'content-type: application/json' -d "$body"

step "with the key → 200 (curl)"
curl -s -w '\n%{http_code}\n' "$GW/v1/chat/completions" -H 'content-type: application/json' -H "authorization: Bearer $key" -d "$body"

step "with the key → the official openai client"
docker compose exec -T -e KEY="$key" mock-llm node -e '
  const OpenAI = require("openai").default;
  const c = new OpenAI({ baseURL: "http://kong:8000/v1", apiKey: process.env.KEY, maxRetries: 0 });
  c.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
    .then(r => console.log("openai client:", r.choices[0].message.content), e => { console.error(e.status, e.message); process.exit(1); });'

step "a redacted answer: the upstream returns an email and a card number"
content=$(printf 'Write to jane.doe@example.com, card 4111 1111 1111 1111.' | base64 | tr -d '\n')
curl -s "$GW/v1/chat/completions" -H 'content-type: application/json' -H "authorization: Bearer $key" -H "x-mock-content: $content" -d "$body"; echo

step "past the tier's requests per minute → 429"
for _ in 1 2 3 4; do curl -s -o /dev/null -w '%{http_code} ' "$GW/v1/chat/completions" -H 'content-type: application/json' -H "authorization: Bearer $key" -d "$body"; done; echo
