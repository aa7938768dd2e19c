#!/usr/bin/env bash
# Load test of the gateway path, compared on the same machine in the same
# run with a plain nginx reverse proxy in front of the same upstream.
#
#   scripts/bench.sh                      # 50 connections, 10 s per target
#   DURATION=30s CONNS=100 ROUNDS=5 scripts/bench.sh
#   OBHUB_FLAGS="--log-level info" scripts/bench.sh   # extra flags for obhub serve
#   PACED="0.25 0.5 0.75" scripts/bench.sh  # loads of the latency runs (below)
#   NODES=2 scripts/bench.sh              # two nodes behind nginx (see below)
#   TRACE=1 scripts/bench.sh              # then a traced run of node 1 (see below)
#
# Targets (all GET of a 1 KB JSON document over keep-alive connections):
#   direct  the upstream itself (nginx serving a static file)
#   nginx   nginx as a plain reverse proxy: proxy_pass as shipped
#           (HTTP/1.0 upstream, one upstream connection per request)
#   nginx-ka nginx tuned: HTTP/1.1 keep-alive pool to the upstream
#   fiber   fiber's own proxy middleware and nothing else
#           (scripts/benchproxy): the floor of a fiber-based gateway
#   obhub   obhub: JWT validation, routing by OpenAPI operation, scope and
#           subscription checks, plan rate and quota counted (never
#           reached), request validation (on by default), audit in the
#           default written mode (a response waits until its record is
#           written to the node's journal; the journal is flushed to disk
#           behind, every 5 ms at most), proxy to the same upstream
#   obhub-strict the same on a second node with --audit-mode strict (a
#           response waits until its record is on disk)
#   obhub-async the same on a third node with --audit-mode async (every
#           record written, no response waiting for it)
#
# Saturation rounds: each target as fast as it answers (wrk's closed
# loop), targets interleaved. It prints requests/s and p99 latency for
# each, then obhub/nginx and obhub/fiber as ratios and each target's p99
# over the direct upstream. At saturation a slower target's p99 is mostly
# its queue (50 connections over its throughput), not what it adds to a
# request; so then come the latency runs: every target at the same fixed
# rate (scripts/paced.lua), each of PACED (default "0.25 0.5") times the
# median requests/s of plain nginx in the saturation rounds (of node 1
# alone with NODES=2), and each target's p99 over the direct upstream at
# that rate. Last, where each
# obhub node's audit time went (group size, append and flush times, a
# response's wait for its record). Ratios are what to compare across machines;
# absolute figures depend on the machine's load.
# wrk and nginx are installed from Debian if missing.
#
# NODES=2 runs a cluster instead of one node: an etcd of the script's own
# (Debian's etcd-server, installed if missing), two obhub nodes sharing it,
# the machine's PostgreSQL (BENCH_DB, default the local test database, in
# a schema of the script's own that is dropped at the end) and Redis
# (BENCH_REDIS, default database 10 of the local Redis). Targets:
#   direct    the upstream itself
#   nginx-ka  nginx proxying directly to the upstream (keep-alive pool)
#   obhub-1   node 1 alone, called directly
#   cluster   nginx balancing (round robin, keep-alive) across both nodes
# and the ratios cluster/nginx-ka, obhub-1/nginx-ka and cluster/obhub-1.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
PACED=${PACED:-0.25 0.5}
TRACE=${TRACE:-0}
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
NODES=${NODES:-1}
GW2_PORT=$((BASE_PORT + 6))
ADMIN2_PORT=$((BASE_PORT + 7))
GW3_PORT=$((BASE_PORT + 12))
ADMIN3_PORT=$((BASE_PORT + 13))
LB_PORT=$((BASE_PORT + 8))
ETCD_PORT=$((BASE_PORT + 9))
ETCD_PEER_PORT=$((BASE_PORT + 10))
FIBER_PORT=$((BASE_PORT + 11))
BENCH_DB=${BENCH_DB:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
BENCH_REDIS=${BENCH_REDIS:-redis://127.0.0.1:6379/10}
case $NODES in 1 | 2) ;; *) echo "NODES must be 1 or 2" >&2; exit 2 ;; esac

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

if [ "$NODES" = 2 ]; then
	command -v etcd >/dev/null || [ -x /usr/bin/etcd ] || {
		log "installing etcd-server from Debian"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
	}
	ETCD=$(command -v etcd || echo /usr/bin/etcd)
	command -v psql >/dev/null || { echo "NODES=2 needs psql to make the bench schema" >&2; exit 1; }
fi

WORK=$(mktemp -d /tmp/obhub-bench.XXXXXX)
SCHEMA="bench_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PIDS=()
NODE_PID=() # obhub nodes by number (start_node)
FIBER_PID=""
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
	wait 2>/dev/null || true
	if [ "$NODES" = 2 ]; then psql -q "$BENCH_DB" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

log "building obhub"
go build -o "$WORK/obhub" ./cmd/obhub
[ "$NODES" = 2 ] || go build -o "$WORK/benchproxy" ./scripts/benchproxy
[ "$TRACE" = 1 ] && go build -o "$WORK/tracewaits" ./scripts/tracewaits

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
EOF
if [ "$NODES" = 2 ]; then
	cat >>"$WORK/nginx.conf" <<EOF
  # The cluster's load balancer: round robin over both nodes' public
  # listeners, tuned like nginx-ka.
  upstream obhub { server 127.0.0.1:$GW_PORT; server 127.0.0.1:$GW2_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$LB_PORT;
    location / {
      proxy_pass http://obhub;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
EOF
fi
echo "}" >>"$WORK/nginx.conf"
log "starting nginx (upstream :$UP_PORT, plain proxy :$PROXY_PORT, tuned proxy :$TUNED_PORT)"
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK"

ADMIN_TOKEN="oba_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
CLUSTER_FLAGS=()
if [ "$NODES" = 2 ]; then
	log "starting etcd (:$ETCD_PORT); PostgreSQL schema $SCHEMA; Redis $BENCH_REDIS"
	"$ETCD" --name bench --data-dir "$WORK/etcd" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "bench=http://127.0.0.1:$ETCD_PEER_PORT" --max-request-bytes 10485760 --max-txn-ops 1024 \
		>"$WORK/etcd.out" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 100); do
		curl -sf "http://127.0.0.1:$ETCD_PORT/health" >/dev/null && break
		sleep 0.1
	done
	psql -q "$BENCH_DB" -c "CREATE SCHEMA $SCHEMA" >/dev/null
	case $BENCH_DB in *\?*) DB_URL="$BENCH_DB&search_path=$SCHEMA" ;; *) DB_URL="$BENCH_DB?search_path=$SCHEMA" ;; esac
	OBHUB_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
	export OBHUB_KEY_ENCRYPTION_KEY
	CLUSTER_FLAGS=(--etcd "http://127.0.0.1:$ETCD_PORT" --db "$DB_URL" --redis "$BENCH_REDIS"
		--issuer "http://127.0.0.1:$LB_PORT")
fi

# start_node N GW_PORT ADMIN_PORT [FLAGS...]: starts obhub node N and waits
# until it is ready.
start_node() {
	local n=$1 gw=$2 admin=$3
	shift 3
	log "starting obhub node $n (:$gw) $*"
	OBHUB_ADMIN_TOKEN=$ADMIN_TOKEN "$WORK/obhub" serve --data "$WORK/data$n" \
		--listen "127.0.0.1:$gw" --admin-listen "127.0.0.1:$admin" --log-level warn \
		"${CLUSTER_FLAGS[@]}" "$@" ${OBHUB_FLAGS:-} >"$WORK/obhub$n.out" 2>&1 &
	PIDS+=($!)
	NODE_PID[$n]=$!
	for _ in $(seq 1 150); do
		curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null && return 0
		sleep 0.1
	done
	echo "obhub node $n did not become ready:" >&2
	cat "$WORK/obhub$n.out" >&2
	exit 1
}
start_node 1 "$GW_PORT" "$ADMIN_PORT"
if [ "$NODES" = 1 ]; then
	start_node 2 "$GW2_PORT" "$ADMIN2_PORT" --audit-mode strict
	start_node 3 "$GW3_PORT" "$ADMIN3_PORT" --audit-mode async
	log "starting fiber's bare proxy (:$FIBER_PORT)"
	"$WORK/benchproxy" "127.0.0.1:$FIBER_PORT" "http://127.0.0.1:$UP_PORT" >"$WORK/benchproxy.out" 2>&1 &
	PIDS+=($!)
	FIBER_PID=$!
fi
if [ "$NODES" = 2 ]; then start_node 2 "$GW2_PORT" "$ADMIN2_PORT"; fi

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
# apply_alliance ADMIN_PORT GW_PORT: applies the bench alliance through a
# node's admin API and prints an access token of the bench app from it.
apply_alliance() {
	local out="$WORK/apply-$1.out"
	OBHUB_ADMIN_TOKEN=$ADMIN_TOKEN "$WORK/obhub" apply -f "$WORK/alliance.yaml" --admin-url "http://127.0.0.1:$1" >"$out"
	local id secret
	id=$(sed -n 's/.*client_id=\([^ ]*\) client_secret=.*/\1/p' "$out")
	secret=$(sed -n 's/.*client_secret=\([^ ]*\).*/\1/p' "$out")
	curl -sf -u "$id:$secret" -d grant_type=client_credentials "http://127.0.0.1:$2/oauth2/token" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
TOKEN=$(apply_alliance "$ADMIN_PORT" "$GW_PORT")
# A single node's second and third nodes have stores of their own; a cluster's shares
# node 1's through etcd.
TOKEN2=$TOKEN
if [ "$NODES" = 1 ]; then
	TOKEN2=$(apply_alliance "$ADMIN2_PORT" "$GW2_PORT")
	TOKEN3=$(apply_alliance "$ADMIN3_PORT" "$GW3_PORT")
fi

DIRECT_URL="http://127.0.0.1:$UP_PORT/bench/v1/items"
PROXY_URL="http://127.0.0.1:$PROXY_PORT/bench/v1/items"
TUNED_URL="http://127.0.0.1:$TUNED_PORT/bench/v1/items"
FIBER_URL="http://127.0.0.1:$FIBER_PORT/bench/v1/items"
GW_URL="http://127.0.0.1:$GW_PORT/bench-bank/bench/v1/items"
GW2_URL="http://127.0.0.1:$GW2_PORT/bench-bank/bench/v1/items"
GW3_URL="http://127.0.0.1:$GW3_PORT/bench-bank/bench/v1/items"
LB_URL="http://127.0.0.1:$LB_PORT/bench-bank/bench/v1/items"
for url in "$DIRECT_URL" "$PROXY_URL" "$TUNED_URL"; do curl -sf -o /dev/null "$url"; done
if [ "$NODES" = 1 ]; then
	for _ in $(seq 1 50); do curl -sf -o /dev/null "$FIBER_URL" && break; sleep 0.1; done
	curl -sf -o /dev/null "$FIBER_URL" || { echo "the bare fiber proxy did not answer:" >&2; cat "$WORK/benchproxy.out" >&2; exit 1; }
fi
CHECK=("$GW_URL" "$GW2_URL")
if [ "$NODES" = 1 ]; then CHECK+=("$GW3_URL"); fi
if [ "$NODES" = 2 ]; then CHECK+=("$LB_URL" "$LB_URL"); fi
for url in "${CHECK[@]}"; do
	tok=$TOKEN
	[ "$url" = "$GW2_URL" ] && tok=$TOKEN2
	[ "$url" = "$GW3_URL" ] && tok=$TOKEN3
	# Node 2 follows node 1's configuration through etcd within about a second.
	for _ in $(seq 1 50); do
		code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "$url")
		[ "$code" = 200 ] && break
		sleep 0.1
	done
	[ "$code" = 200 ] || { echo "$url answered $code, not 200" >&2; cat "$WORK"/obhub*.out >&2; exit 1; }
done

# schedwait PID...: the nanoseconds the processes' threads have spent
# runnable but waiting for a CPU (the kernel's run queue), in all, from
# /proc/PID/task/*/schedstat; 0 where the kernel does not keep it.
schedwait() {
	local p
	for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null || true; done | awk '{w += $2} END {printf "%d\n", w}'
}

# target_pids NAME: the processes that answer target NAME, whose waits for
# a CPU the latency runs report.
target_pids() {
	case $1 in
	direct | nginx | nginx-ka) pgrep -P "$(cat "$WORK/nginx.pid")" | tr '\n' ' ' ;;
	fiber) echo "$FIBER_PID" ;;
	obhub | obhub-1) echo "${NODE_PID[1]}" ;;
	obhub-strict) echo "${NODE_PID[2]}" ;;
	obhub-async) echo "${NODE_PID[3]}" ;;
	cluster) echo "${NODE_PID[1]} ${NODE_PID[2]}" ;;
	esac
}

# run NAME URL [HEADER [RATE]]: prints "NAME RPS P99_MS NON2XX"; with a
# RATE, at that many requests/s (scripts/paced.lua), else at saturation.
# With a RATE it also prints WAIT_US, what the target's processes waited
# for a CPU per request, and WRK_WAIT, the share of the run wrk itself
# waited for one (schedwait): the latency runs report them.
run() {
	local name=$1 url=$2 hdr=${3:-} rate=${4:-}
	local args=(-t"$THREADS" -c"$CONNS" --latency)
	[ -n "$hdr" ] && args+=(-H "$hdr")
	[ -n "$rate" ] && args+=(-s scripts/paced.lua)
	export RATE=$rate THREADS
	wrk "${args[@]}" -d"$WARMUP" "$url" >/dev/null
	local pids w0 wrk_pid wrk_w0 wrk_w="" t0 t1 v
	[ -n "$rate" ] && pids=$(target_pids "$name") && w0=$(schedwait $pids)
	t0=$(date +%s%N)
	wrk "${args[@]}" -d"$DURATION" "$url" >"$WORK/wrk-$name.txt" &
	wrk_pid=$!
	wrk_w0=$(schedwait "$wrk_pid")
	# wrk's threads are gone once it exits, and their waits with them:
	# keep the largest reading, taken while they ran.
	while [ -n "$rate" ] && kill -0 "$wrk_pid" 2>/dev/null; do
		v=$(schedwait "$wrk_pid")
		if [ "$v" -gt "${wrk_w:-0}" ]; then
			wrk_w=$v t1=$(date +%s%N)
		fi
		sleep 0.2
	done
	wait "$wrk_pid"
	local out rps p99 non2xx n
	out=$(cat "$WORK/wrk-$name.txt")
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' <<<"$out")
	non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	if [ -z "$rate" ]; then
		echo "$name ${rps:-0} ${p99:-0} ${non2xx:-0}"
		return
	fi
	n=$(awk '/requests in/ {print $1}' <<<"$out")
	echo "$name ${rps:-0} ${p99:-0} ${non2xx:-0}" \
		"$(awk -v a="$w0" -v b="$(schedwait $pids)" -v n="${n:-0}" 'BEGIN {print (n > 0 ? (b - a) / n / 1000 : 0)}')" \
		"$(awk -v a="$wrk_w0" -v b="${wrk_w:-$wrk_w0}" -v t0="$t0" -v t1="${t1:-$t0}" 'BEGIN {print (t1 > t0 ? (b - a) / (t1 - t0) : 0)}')"
}

AUTH="Authorization: Bearer $TOKEN"
if [ "$NODES" = 2 ]; then
	TARGETS=(direct "$DIRECT_URL" "" nginx-ka "$TUNED_URL" "" obhub-1 "$GW_URL" "$AUTH" cluster "$LB_URL" "$AUTH")
	RATIOS="cluster/nginx-ka obhub-1/nginx-ka cluster/obhub-1"
	PACED_TARGETS=(direct "$DIRECT_URL" "" nginx-ka "$TUNED_URL" "" obhub-1 "$GW_URL" "$AUTH" cluster "$LB_URL" "$AUTH")
	PACED_BASE=obhub-1
else
	TARGETS=(direct "$DIRECT_URL" "" nginx "$PROXY_URL" "" nginx-ka "$TUNED_URL" "" fiber "$FIBER_URL" ""
		obhub "$GW_URL" "$AUTH" obhub-strict "$GW2_URL" "Authorization: Bearer $TOKEN2"
		obhub-async "$GW3_URL" "Authorization: Bearer $TOKEN3")
	RATIOS="obhub/nginx obhub-strict/nginx obhub-async/nginx obhub/nginx-ka obhub/fiber obhub-async/fiber"
	PACED_TARGETS=(direct "$DIRECT_URL" "" fiber "$FIBER_URL" "" obhub "$GW_URL" "$AUTH"
		obhub-strict "$GW2_URL" "Authorization: Bearer $TOKEN2" obhub-async "$GW3_URL" "Authorization: Bearer $TOKEN3")
	PACED_BASE=nginx
fi

log "wrk: $THREADS threads, $CONNS connections, $DURATION per target, $ROUNDS rounds (targets interleaved)"
: >"$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
	for ((i = 0; i < ${#TARGETS[@]}; i += 3)); do
		run "${TARGETS[i]}" "${TARGETS[i + 1]}" "${TARGETS[i + 2]}" | sed "s/^/$round /" >>"$WORK/results"
	done
done

# Per-round figures, then medians: on a shared machine the ratio within a
# round is steadier than any absolute figure.
python3 - "$WORK/results" "$RATIOS" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by, names = {}, []
for rnd, name, rps, p99, bad in rows:
    by.setdefault(int(rnd), {})[name] = (float(rps), float(p99), int(bad))
    if name not in names:
        names.append(name)
print()
print("%-6s %-12s %12s %10s %8s" % ("round", "target", "requests/s", "p99 ms", "non-2xx"))
for rnd in sorted(by):
    for name in names:
        rps, p99, bad = by[rnd][name]
        print("%-6d %-12s %12.0f %10.2f %8d" % (rnd, name, rps, p99, bad))
print()
for pair in sys.argv[2].split():
    a, b = pair.split("/")
    rs = [by[r][a][0] / by[r][b][0] for r in by]
    print("%s requests/s ratio: median %.2f (rounds: %s)" % (pair, statistics.median(rs), ", ".join("%.2f" % r for r in rs)))
for name in names[1:]:
    added = [by[r][name][1] - by[r]["direct"][1] for r in by]
    print("%s p99 over direct upstream: median %+.2f ms" % (name, statistics.median(added)))
if any(by[r][n][2] for r in by for n in names if n.startswith(("obhub", "cluster"))):
    print("warning: obhub answered non-2xx responses", file=sys.stderr)
EOF

# Latency runs: every target at the same fixed rate, a fraction of plain
# nginx's median requests/s above (node 1's for a cluster).
BASE_RPS=$(awk -v n="$PACED_BASE" '$2 == n {print $3}' "$WORK/results" | sort -n | awk '{v[NR]=$1} END {print int(v[int((NR+1)/2)])}')
: >"$WORK/paced"
for frac in $PACED; do
	rate=$(awk -v f="$frac" -v b="$BASE_RPS" 'BEGIN {print int(f * b)}')
	log "latency run: $rate requests/s in all ($frac of $PACED_BASE's $BASE_RPS)"
	for ((i = 0; i < ${#PACED_TARGETS[@]}; i += 3)); do
		run "${PACED_TARGETS[i]}" "${PACED_TARGETS[i + 1]}" "${PACED_TARGETS[i + 2]}" "$rate" | sed "s/^/$frac $rate /" >>"$WORK/paced"
	done
done
python3 - "$WORK/paced" "$PACED_BASE" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
print()
print("Latency at a fixed rate (every target the same requests/s: %s's median above times the fraction):" % sys.argv[2])
print("(cpu wait: what the target's processes waited for a CPU per request; wrk wait: the share of the run wrk did)")
print("%-9s %-12s %12s %10s %12s %8s %13s %9s" % ("fraction", "target", "requests/s", "p99 ms", "over direct", "non-2xx", "cpu wait µs", "wrk wait"))
direct = {}
for frac, rate, name, rps, p99, bad, wait, wrk in rows:
    if name == "direct":
        direct[frac] = float(p99)
    added = float(p99) - direct.get(frac, float(p99))
    print("%-9s %-12s %12.0f %10.2f %+12.2f %8d %13.0f %8.1f%%" % (frac, name, float(rps), float(p99), added, int(bad), float(wait), 100 * float(wrk)))
    if float(rps) < 0.95 * float(rate):
        print("warning: %s did not keep up with %s requests/s" % (name, rate), file=sys.stderr)
EOF

# With TRACE=1, one more run of node 1 at the first latency run's rate,
# 5 s of it under Go's execution tracer (which slows it: the figures
# above come from runs without it), read by scripts/tracewaits: how long
# its goroutines waited for a processor, and how many long waits fell
# while another goroutine held one for milliseconds (its thread waiting
# for a CPU the kernel gave to another process).
if [ "$TRACE" = 1 ]; then
	rate=$(awk -v f="${PACED%% *}" -v b="$BASE_RPS" 'BEGIN {print int(f * b)}')
	log "traced run: node 1 at $rate requests/s"
	RATE=$rate THREADS=$THREADS wrk -t"$THREADS" -c"$CONNS" -s scripts/paced.lua -H "$AUTH" -d7s "$GW_URL" >/dev/null &
	wrk_pid=$!
	sleep 1
	traced=0
	curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "http://127.0.0.1:$ADMIN_PORT/debug/pprof/trace?seconds=5" >"$WORK/node1.trace" && traced=1
	wait "$wrk_pid" || true
	echo
	# A trace that could not be taken or read is reported, not fatal: the
	# node's figures below still print.
	if [ "$traced" = 1 ]; then
		"$WORK/tracewaits" "$WORK/node1.trace" | sed 's/^/trace (node 1): /' || log "the trace could not be read"
	else
		log "node 1's trace could not be taken"
	fi
fi

# Where each node's time went over the whole run (its /metrics): the
# audit group commit's size, append and flush times, and what a response
# waited for its record (written and strict modes); then how often a runnable goroutine
# waited for a processor, and the garbage collector's stop-the-world
# pauses (docs/performance.md).
echo
NODE_LIST="1 2"
[ "$NODES" = 1 ] && NODE_LIST="1 2 3"
for node in $NODE_LIST; do
	port=$ADMIN_PORT
	[ "$node" = 2 ] && port=$ADMIN2_PORT
	[ "$node" = 3 ] && port=$ADMIN3_PORT
	curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "http://127.0.0.1:$port/metrics" | NODE=$node python3 -c '
import os, re, sys
node = os.environ["NODE"]
m, sched, gc = {}, [], []
for line in sys.stdin:
    if line.startswith("obhub_audit_"):
        k, v = line.split()[:2]
        m[k] = float(v)
    b = re.match(r"go_sched_(latencies|pauses_total_gc)_seconds_bucket\{le=\"([^\"]+)\"\} (\S+)", line)
    if b:
        (sched if b.group(1) == "latencies" else gc).append((float(b.group(2)), float(b.group(3))))
g = lambda k: m.get("obhub_audit_" + k + "_total", 0.0)
if g("batches"):
    print("audit (node %s): %d records in groups of %.1f; append %.2f ms per group, flush %.2f ms" % (
        node, g("written"), g("written") / g("batches"), 1000 * g("append_seconds") / g("batches"),
        1000 * g("flush_seconds") / max(1, g("flushes"))), end="")
    if g("waits"):
        print("; a response waited %.2f ms for its record" % (1000 * g("wait_seconds") / g("waits")), end="")
    print()
def over(hist, limit):
    # the share of a cumulative histogram above the first bound >= limit
    total = hist[-1][1] if hist else 0
    below = next((n for le, n in hist if le >= limit), total)
    return total, (total - below) / total if total else 0
n, late = over(sched, 0.0009)
if n:
    _, very = over(sched, 0.01)
    print("scheduler (node %s): of %d goroutine wake-ups, %.2f%% waited over ~1 ms for a processor, %.3f%% over ~10 ms" % (node, n, 100 * late, 100 * very), end="")
    k, _ = over(gc, 0)
    if k:
        _, long = over(gc, 0.0009)
        print("; %d garbage-collector pauses, %.1f%% over ~1 ms" % (k, 100 * long), end="")
    print()
' || true
done
