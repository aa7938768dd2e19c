#!/usr/bin/env bash
# Load test of the gateway path, compared on the same machine in the same
# run with a plain nginx reverse proxy in front of the same upstream.
#
#   scripts/bench.sh                      # 50 connections, 10 s per target
#   DURATION=30s CONNS=100 scripts/bench.sh
#
# Targets (all GET of a 1 KB JSON document over keep-alive connections):
#   direct  the upstream itself (nginx serving a static file)
#   nginx   nginx as a plain reverse proxy to the upstream (keep-alive pool)
#   obhub   obhub: JWT validation, routing by OpenAPI operation, scope and
#           subscription checks, proxy to the same upstream
#
# It prints requests/s and p99 latency for each, then obhub/nginx as a
# ratio and obhub's p99 over the direct upstream. Ratios are what to
# compare across machines; absolute figures depend on the machine's load.
# wrk and nginx are installed from Debian if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
BASE_PORT=${BASE_PORT:-18900}
UP_PORT=$((BASE_PORT + 1))
PROXY_PORT=$((BASE_PORT + 2))
GW_PORT=$((BASE_PORT + 3))
ADMIN_PORT=$((BASE_PORT + 4))

log() { printf '==> %s\n' "$*" >&2; }

install_missing() {
	local missing=()
	command -v wrk >/dev/null || missing+=(wrk)
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]} from Debian"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}
install_missing
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

WORK=$(mktemp -d /tmp/obhub-bench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

log "building obhub"
go build -o "$WORK/obhub" ./cmd/obhub

# A 1 KB JSON document, served by nginx as the upstream.
mkdir -p "$WORK/www/bench/v1"
python3 - "$WORK/www/bench/v1/items" <<'EOF'
import json, sys
items = [{"id": "item-%03d" % i, "amount": "%d.%02d" % (i * 37, i % 100), "currency": "CNY"} for i in range(18)]
doc = json.dumps({"data": items}, separators=(",", ":"))
doc = doc[:-1] + ',"pad":"' + "x" * max(0, 1024 - len(doc) - 9) + '"}'
open(sys.argv[1], "w").write(doc)
EOF

chmod -R a+rX "$WORK" # nginx workers run as an unprivileged user

cat >"$WORK/nginx.conf" <<EOF
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream bank { server 127.0.0.1:$UP_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$UP_PORT;
    root $WORK/www;
    default_type application/json;
  }
  server {
    listen 127.0.0.1:$PROXY_PORT;
    location / {
      proxy_pass http://bank;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
log "starting nginx (upstream :$UP_PORT, proxy :$PROXY_PORT)"
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK"

ADMIN_TOKEN="oba_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
log "starting obhub (:$GW_PORT)"
OBHUB_ADMIN_TOKEN=$ADMIN_TOKEN "$WORK/obhub" serve --data "$WORK/data" \
	--listen "127.0.0.1:$GW_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" --log-level warn \
	>"$WORK/obhub.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
	curl -sf "http://127.0.0.1:$GW_PORT/readyz" >/dev/null && break
	sleep 0.1
done

cat >"$WORK/bench-api.yaml" <<'EOF'
openapi: 3.0.3
info: {title: Bench API, version: "1.0"}
servers: [{url: /bench/v1}]
components:
  securitySchemes:
    oauth: {type: oauth2, flows: {clientCredentials: {tokenUrl: /oauth2/token, scopes: {"items:read": read}}}}
security: [{oauth: ["items:read"]}]
paths:
  /items:
    get:
      operationId: listItems
      responses: {"200": {description: items}}
EOF
cat >"$WORK/alliance.yaml" <<EOF
banks: [{id: bench-bank, name: Bench Bank}]
apis:
  - {id: bench-api, bank: bench-bank, specFile: bench-api.yaml, upstream: "http://127.0.0.1:$UP_PORT", status: published}
products:
  - {id: bench, name: Bench, apis: [bench-api], approval: auto}
partners: [{id: bench-partner, name: Bench Partner, kind: fintech, approved: true}]
apps:
  - {partner: bench-partner, name: bench-app, environment: production, grant_types: [client_credentials], scopes: ["items:read"], subscriptions: [bench]}
EOF
OBHUB_ADMIN_TOKEN=$ADMIN_TOKEN "$WORK/obhub" apply -f "$WORK/alliance.yaml" --admin-url "http://127.0.0.1:$ADMIN_PORT" >"$WORK/apply.out"
CLIENT_ID=$(sed -n 's/.*client_id=\([^ ]*\) client_secret=.*/\1/p' "$WORK/apply.out")
CLIENT_SECRET=$(sed -n 's/.*client_secret=\([^ ]*\).*/\1/p' "$WORK/apply.out")
TOKEN=$(curl -sf -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "http://127.0.0.1:$GW_PORT/oauth2/token" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

DIRECT_URL="http://127.0.0.1:$UP_PORT/bench/v1/items"
PROXY_URL="http://127.0.0.1:$PROXY_PORT/bench/v1/items"
GW_URL="http://127.0.0.1:$GW_PORT/bench-bank/bench/v1/items"
for url in "$DIRECT_URL" "$PROXY_URL"; do curl -sf -o /dev/null "$url"; done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$GW_URL")
[ "$code" = 200 ] || { echo "obhub answered $code, not 200; see $WORK/obhub.out" >&2; cat "$WORK/obhub.out" >&2; exit 1; }

# run NAME URL [HEADER]: prints "NAME RPS P99_MS NON2XX".
run() {
	local name=$1 url=$2 hdr=${3:-}
	local args=(-t"$THREADS" -c"$CONNS" --latency)
	[ -n "$hdr" ] && args+=(-H "$hdr")
	wrk "${args[@]}" -d"$WARMUP" "$url" >/dev/null
	local out
	out=$(wrk "${args[@]}" -d"$DURATION" "$url")
	echo "$out" >"$WORK/wrk-$name.txt"
	local rps p99 non2xx
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' <<<"$out")
	non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	echo "$name ${rps:-0} ${p99:-0} ${non2xx:-0}"
}

log "wrk: $THREADS threads, $CONNS connections, $DURATION per target (after $WARMUP warm-up)"
R_DIRECT=$(run direct "$DIRECT_URL")
R_NGINX=$(run nginx "$PROXY_URL")
R_OBHUB=$(run obhub "$GW_URL" "Authorization: Bearer $TOKEN")

echo
printf '%-8s %12s %10s %8s\n' target "requests/s" "p99 ms" non-2xx
for r in "$R_DIRECT" "$R_NGINX" "$R_OBHUB"; do
	read -r n rps p99 bad <<<"$r"
	printf '%-8s %12.0f %10.2f %8s\n' "$n" "$rps" "$p99" "$bad"
done
read -r _ d_rps d_p99 _ <<<"$R_DIRECT"
read -r _ n_rps n_p99 _ <<<"$R_NGINX"
read -r _ o_rps o_p99 o_bad <<<"$R_OBHUB"
echo
awk -v o="$o_rps" -v n="$n_rps" -v op="$o_p99" -v dp="$d_p99" -v np="$n_p99" 'BEGIN {
	printf "obhub/nginx requests/s ratio: %.2f\n", o / n
	printf "obhub p99 over direct upstream: %+.2f ms (nginx: %+.2f ms)\n", op - dp, np - dp
}'
if [ "${o_bad:-0}" != 0 ]; then
	echo "warning: obhub answered $o_bad non-2xx responses" >&2
fi
