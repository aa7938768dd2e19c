#!/usr/bin/env bash
# Load test of the gateway path, compared on the same machine in the same
# run with a plain nginx reverse proxy in front of the same upstream.
#
#   scripts/bench.sh                      # 50 connections, 10 s per target
#   DURATION=30s CONNS=100 ROUNDS=5 scripts/bench.sh
#   OBHUB_FLAGS="--audit-mode async" scripts/bench.sh   # extra flags for obhub serve
#
# Targets (all GET of a 1 KB JSON document over keep-alive connections):
#   direct  the upstream itself (nginx serving a static file)
#   nginx   nginx as a plain reverse proxy: proxy_pass as shipped
#           (HTTP/1.0 upstream, one upstream connection per request)
#   nginx-ka nginx tuned: HTTP/1.1 keep-alive pool to the upstream
#   obhub   obhub: JWT validation, routing by OpenAPI operation, scope and
#           subscription checks, plan rate and quota counted (never
#           reached), request validation (on by default), audit, proxy to
#           the same upstream
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
ROUNDS=${ROUNDS:-3}
BASE_PORT=${BASE_PORT:-18900}
UP_PORT=$((BASE_PORT + 1))
PROXY_PORT=$((BASE_PORT + 2))
TUNED_PORT=$((BASE_PORT + 5))
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
  # The plain proxy: proxy_pass as nginx ships it (HTTP/1.0 to the
  # upstream, a new upstream connection per request).
  server {
    listen 127.0.0.1:$PROXY_PORT;
    location / { proxy_pass http://127.0.0.1:$UP_PORT; }
  }
  # The tuned proxy: HTTP/1.1 with a pool of keep-alive upstream
  # connections, as obhub does.
  server {
    listen 127.0.0.1:$TUNED_PORT;
    location / {
      proxy_pass http://bank;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
log "starting nginx (upstream :$UP_PORT, plain proxy :$PROXY_PORT, tuned proxy :$TUNED_PORT)"
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK"

ADMIN_TOKEN="oba_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
log "starting obhub (:$GW_PORT)"
OBHUB_ADMIN_TOKEN=$ADMIN_TOKEN "$WORK/obhub" serve --data "$WORK/data" \
	--listen "127.0.0.1:$GW_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" --log-level warn ${OBHUB_FLAGS:-} \
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
  - {id: bench, name: Bench, apis: [bench-api], approval: auto, plan: {rate: {limit: 1000000000, period: 1s}, quota: {limit: 1000000000000, period: 24h}}}
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
TUNED_URL="http://127.0.0.1:$TUNED_PORT/bench/v1/items"
GW_URL="http://127.0.0.1:$GW_PORT/bench-bank/bench/v1/items"
for url in "$DIRECT_URL" "$PROXY_URL" "$TUNED_URL"; do curl -sf -o /dev/null "$url"; done
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

log "wrk: $THREADS threads, $CONNS connections, $DURATION per target, $ROUNDS rounds (targets interleaved)"
: >"$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
	run direct "$DIRECT_URL" | sed "s/^/$round /" >>"$WORK/results"
	run nginx "$PROXY_URL" | sed "s/^/$round /" >>"$WORK/results"
	run nginx-ka "$TUNED_URL" | sed "s/^/$round /" >>"$WORK/results"
	run obhub "$GW_URL" "Authorization: Bearer $TOKEN" | sed "s/^/$round /" >>"$WORK/results"
done

# Per-round figures, then medians: on a shared machine the ratio within a
# round is steadier than any absolute figure.
python3 - "$WORK/results" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for rnd, name, rps, p99, bad in rows:
    by.setdefault(int(rnd), {})[name] = (float(rps), float(p99), int(bad))
print()
print("%-6s %-8s %12s %10s %8s" % ("round", "target", "requests/s", "p99 ms", "non-2xx"))
for rnd in sorted(by):
    for name in ("direct", "nginx", "nginx-ka", "obhub"):
        rps, p99, bad = by[rnd][name]
        print("%-6d %-8s %12.0f %10.2f %8d" % (rnd, name, rps, p99, bad))
ratios = [by[r]["obhub"][0] / by[r]["nginx"][0] for r in by]
ka_ratios = [by[r]["obhub"][0] / by[r]["nginx-ka"][0] for r in by]
added = [by[r]["obhub"][1] - by[r]["direct"][1] for r in by]
nginx_added = [by[r]["nginx"][1] - by[r]["direct"][1] for r in by]
print()
print("obhub/nginx requests/s ratio: median %.2f (rounds: %s)" % (statistics.median(ratios), ", ".join("%.2f" % r for r in ratios)))
print("obhub/nginx-ka (keep-alive pool) ratio: median %.2f (rounds: %s)" % (statistics.median(ka_ratios), ", ".join("%.2f" % r for r in ka_ratios)))
print("obhub p99 over direct upstream: median %+.2f ms (nginx: %+.2f ms)" % (statistics.median(added), statistics.median(nginx_added)))
if any(by[r]["obhub"][2] for r in by):
    print("warning: obhub answered non-2xx responses", file=sys.stderr)
EOF
