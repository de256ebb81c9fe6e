#!/usr/bin/env bash
# The edge's hit path against Varnish, nginx proxy_cache and a bare hyper
# server, on the same 20 KB page from the same origin, back to back.
#
#   tests/bench/edge-vs-peers.sh [seconds-per-run]      (default 10)
#
# Installs varnish, nginx and wrk from Debian when missing; builds
# `vitrine-edge` and `bare-hyper` with the `production` profile (release with
# fat LTO, what you deploy; PROFILE=release for a quicker build); starts, on
# free loopback ports:
#   origin      nginx serving the page with Cache-Control: public, max-age=3600
#   varnish     a VCL with that origin as its backend (malloc storage)
#   nginx-cache nginx with proxy_cache in front of the origin
#   edge        vitrine-edge in front of the origin (no plugins, no feed)
#   bare-hyper  the page from memory, no cache logic (the floor)
# warms each, then drives each with wrk (1 thread, 64 connections, then 2
# threads, 1,000 connections), printing requests/s, p99, the server's CPU
# seconds per request (from /proc, all of its processes), and the ratio to
# bare hyper. Finally it holds 12,500 keep-alive connections on the edge and
# reports wrk's socket errors. Load goes to 127.0.0.1 only, bounded in time.
# Machines here are shared and noisy: compare the rows of one run.
# ONLY="bare-hyper edge" runs just those rows, CONNS=64 just that level,
# SKIP_12500=1 leaves out the 12,500-connection hold.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}

need=()
command -v varnishd >/dev/null || need+=(varnish)
command -v nginx >/dev/null || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
if ((${#need[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
# 12,500 connections need that many descriptors in wrk and in the edge.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 13000 ]; then
    echo "open files limit $(ulimit -n) is under 13000: the 12,500-connection run will fail" >&2
fi

profile=${PROFILE:-production}
cargo build --profile "$profile" -q -p vitrine-runtime -p vitrine-tests --bin vitrine-edge --bin bare-hyper
bash plugins/build.sh personalization >/dev/null
bin=$PWD/target/$profile

work=$(mktemp -d /tmp/vitrine-edge-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -f "$work/origin/nginx.pid" ] && kill "$(cat "$work/origin/nginx.pid")" 2>/dev/null || true
    [ -f "$work/cache/nginx.pid" ] && kill "$(cat "$work/cache/nginx.pid")" 2>/dev/null || true
    pkill -f "varnishd.*$work" 2>/dev/null || true
    sleep 0.5
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P_ORIGIN=$(free_port); P_VARNISH=$(free_port); P_NGINX=$(free_port); P_EDGE=$(free_port); P_BARE=$(free_port)

# The page: 20 KB of product JSON.
python3 - "$work/page.json" <<'PY'
import json, sys
items = []
while len(json.dumps({"products": items})) < 20480:
    i = len(items)
    items.append({"id": f"p{i:05d}", "sku": f"SKU-{i:05d}", "name": f"Cordless drill {i}", "brand": "Acme",
                  "category": ["drills", "saws", "paint"][i % 3],
                  "price": {"amount_minor": 129900 + i, "currency": "ZAR"}, "in_stock": True})
open(sys.argv[1], "w").write(json.dumps({"products": items}))
PY
cp "$work/page.json" "$work/bare.json"
mkdir -p "$work/listing" && cp "$work/page.json" "$work/listing/page.json"
echo "page: $(stat -c %s "$work/page.json") bytes"

nginx_conf() { # dir port body
    mkdir -p "$1"
    cat > "$1/nginx.conf" <<EOF
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 20000; }
http {
    access_log off;
    client_body_temp_path $1/body; proxy_temp_path $1/proxy; fastcgi_temp_path $1/fcgi;
    uwsgi_temp_path $1/uwsgi; scgi_temp_path $1/scgi;
    keepalive_requests 1000000;
    $3
}
EOF
}
nginx_conf "$work/origin" "$P_ORIGIN" "server { listen 127.0.0.1:$P_ORIGIN; location / { root $work; default_type application/json; add_header Cache-Control 'public, max-age=3600'; etag on; } }"
nginx_conf "$work/cache" "$P_NGINX" "proxy_cache_path $work/cache/store keys_zone=pages:16m; upstream origin { server 127.0.0.1:$P_ORIGIN; keepalive 64; } server { listen 127.0.0.1:$P_NGINX; location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ''; proxy_cache pages; proxy_cache_valid 200 1h; } }"
nginx -c "$work/origin/nginx.conf"
nginx -c "$work/cache/nginx.conf"

cat > "$work/default.vcl" <<EOF
vcl 4.1;
backend origin { .host = "127.0.0.1"; .port = "$P_ORIGIN"; }
EOF
varnishd -a "127.0.0.1:$P_VARNISH" -f "$work/default.vcl" -s malloc,256m -n "$work/varnish" -p thread_pool_min=50 >/dev/null

secret=bench-edge-secret-bench-edge-secret-0123
cat > "$work/edge.toml" <<EOF
version = 1
[edge]
listen = "127.0.0.1:$P_EDGE"
origin = "http://127.0.0.1:$P_ORIGIN"
signing_secret = "$secret"
change_feed = { kind = "off" }

# The same page, personalized per shopper by the first-party plugin.
[[routes]]
path = "/listing/*"
personalize = ["personalization"]

[plugin_host]
reload_interval_ms = 3600000

[plugins.personalization]
component = "$PWD/target/plugins/personalization.wasm"
manifest = "$PWD/plugins/personalization/vitrine-plugin.toml"
grants = ["config"]
config = { segment_categories = "trade=saws" }
EOF
# A shopper's signed context cookie (runtime/src/edge/personalize.rs).
cookie=$(python3 - "$secret" <<'PY'
import base64, hashlib, hmac, json, sys
payload = base64.urlsafe_b64encode(json.dumps({"segments": ["trade"], "exp": 4102444800}).encode()).rstrip(b"=")
print(payload.decode() + "." + hmac.new(sys.argv[1].encode(), payload, hashlib.sha256).hexdigest())
PY
)
RUST_LOG=warn "$bin/vitrine-edge" --config "$work/edge.toml" >"$work/edge.log" 2>&1 &
pids+=($!); edge_pid=$!
"$bin/bare-hyper" "127.0.0.1:$P_BARE" "$work/bare.json" &
pids+=($!); bare_pid=$!

wait_up() { for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$1/page.json" 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never came up" >&2; return 1; }
for p in $P_ORIGIN $P_VARNISH $P_NGINX $P_EDGE $P_BARE; do wait_up "$p"; done
for p in $P_VARNISH $P_NGINX $P_EDGE; do curl -fsS -o /dev/null "http://127.0.0.1:$p/page.json"; done
curl -fsS -o /dev/null "http://127.0.0.1:$P_EDGE/listing/page.json"
echo "personalized: $(curl -sS -D - -o /dev/null -H "Cookie: vitrine_ctx=$cookie" "http://127.0.0.1:$P_EDGE/listing/page.json" | tr -d '\r' | grep -i -e '^x-personalized' -e '^x-cache' | tr '\n' ' ')"
echo "edge warm: $(curl -sS -D - -o /dev/null "http://127.0.0.1:$P_EDGE/page.json" | tr -d '\r' | grep -i '^x-cache')"
echo "varnish warm: $(curl -sS -D - -o /dev/null "http://127.0.0.1:$P_VARNISH/page.json" | tr -d '\r' | grep -i '^age')"

# CPU ticks (user + system) of a process and its children.
ticks() {
    local total=0 pid
    for pid in "$@" $(for p in "$@"; do pgrep -P "$p" || true; done); do
        [ -r "/proc/$pid/stat" ] || continue
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}
hz=$(getconf CLK_TCK)
varnish_pids() { pgrep -f "varnishd.*$work" | tr '\n' ' '; }
nginx_pids() { cat "$work/cache/nginx.pid"; }

declare -A RPS P99 CPU
only=${ONLY:-}   # e.g. ONLY="bare-hyper edge" to run just those
run() { # name port threads connections pids... (PATH_=..., HEADER=... for the request)
    local name=$1 port=$2 threads=$3 conns=$4; shift 4
    local path=${PATH_:-/page.json}
    if [ -n "$only" ] && ! grep -qw -- "$name" <<<"$only"; then
        RPS[$name.$conns]=1; CPU[$name.$conns]=1; return 0
    fi
    local before after out
    before=$(ticks "$@")
    if [ -n "${HEADER:-}" ]; then
        out=$(wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency -H "$HEADER" "http://127.0.0.1:$port$path")
    else
        out=$(wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency "http://127.0.0.1:$port$path")
    fi
    after=$(ticks "$@")
    local rps p99 requests
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    local errors; errors=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr '\n' ' ' || true)
    local cpu_us; cpu_us=$(python3 -c "print(f'{($after - $before) / $hz / max($requests, 1) * 1e6:.1f}')")
    RPS[$name.$conns]=$rps; P99[$name.$conns]=$p99; CPU[$name.$conns]=$cpu_us
    printf '%-12s %6s conns  %10s req/s  p99 %8s  %7s µs CPU/req  %s\n' "$name" "$conns" "$rps" "$p99" "$cpu_us" "$errors"
}

for conns in ${CONNS:-64 1000}; do
    threads=$([ "$conns" = 64 ] && echo 1 || echo 2)
    echo "== $conns connections, $threads wrk thread(s), ${seconds}s each"
    run bare-hyper "$P_BARE" "$threads" "$conns" "$bare_pid"
    run edge "$P_EDGE" "$threads" "$conns" "$edge_pid"
    run nginx-cache "$P_NGINX" "$threads" "$conns" $(nginx_pids)
    run varnish "$P_VARNISH" "$threads" "$conns" $(varnish_pids)
    python3 - "$conns" "${RPS[bare-hyper.$conns]}" "${RPS[edge.$conns]}" "${RPS[nginx-cache.$conns]}" "${RPS[varnish.$conns]}" \
        "${CPU[bare-hyper.$conns]}" "${CPU[edge.$conns]}" <<'PY'
import sys
conns, bare, edge, nginx, varnish, bare_cpu, edge_cpu = sys.argv[1:]
bare, edge, nginx, varnish = map(float, (bare, edge, nginx, varnish))
ran = lambda v: v > 1  # a skipped run (ONLY=...) records 1
parts = [f"edge/{name} {edge / value:.2f}" for name, value in (("bare-hyper", bare), ("nginx-cache", nginx), ("varnish", varnish)) if ran(value)]
if ran(bare):
    parts.append(f"CPU per request edge/bare-hyper {float(edge_cpu) / float(bare_cpu):.2f}")
print(f"   ratios at {conns}: " + ", ".join(parts))
PY
done

products=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['products']))" "$work/page.json")
echo "== a personalized hit against a plain one on the edge (64 connections, the same page: $products products)"
only=
run edge "$P_EDGE" 1 64 "$edge_pid"
plain=${RPS[edge.64]}; plain_cpu=${CPU[edge.64]}
PATH_=/listing/page.json HEADER="Cookie: vitrine_ctx=$cookie" run edge-personal "$P_EDGE" 1 64 "$edge_pid"
python3 -c "print(f'   personalized/plain: throughput {float(${RPS[edge-personal.64]}) / float($plain):.2f}, CPU per request {float(${CPU[edge-personal.64]}) / float($plain_cpu):.2f}')"

[ -n "${SKIP_12500:-}" ] && exit 0
echo "== 12,500 keep-alive connections on the edge, ${seconds}s"
out=$(wrk -t2 -c12500 -d"${seconds}s" --timeout 10s "http://127.0.0.1:$P_EDGE/page.json")
echo "$out" | grep -E 'Requests/sec|requests in|Socket errors|Non-2xx' || true
if grep -q 'Socket errors' <<<"$out"; then
    echo "12,500 connections: socket errors (see above)"
else
    echo "12,500 connections: no socket errors"
fi
