#!/usr/bin/env bash
# Checkouts per second through edge → origin → Postgres, with the sample
# config's promotions and the testpay plugin against the TestPay double.
#
#   tests/bench/checkout-load.sh [seconds] [shoppers]     (default 20 s, 50 shoppers)
#
# Starts throwaway PostgreSQL and Redis (.ci/services.sh), builds the
# release binaries and the first-party plugins, seeds 20,000 demo
# products, and runs as their own processes on free loopback ports: the
# TestPay double (`vitrine-testpay`), the origin (`vitrine-origin serve`,
# Postgres + Redis, payment plugins from the same config) and the edge
# (`vitrine-edge`, the sample config with its per-client rate limit lifted:
# every shopper here comes from 127.0.0.1). Then `vitrine-load --scenario
# checkout`: each shopper, in closed loop, makes a guest cart of three
# lines through the edge, applies coupon WELCOME10 (its plugin runs on every
# pricing; being once per customer it gives a guest cart nothing), reads the
# priced cart and checks out. Prints checkouts/s, p50/p90/p99 of the checkout call and
# errors; then where the time goes: the origin's and the edge's request
# histograms, the plugins' call times, and the CPU seconds each process
# used. Load goes to 127.0.0.1 only and is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-20}
shoppers=${2:-50}

# shellcheck source=.ci/services.sh
source .ci/services.sh
vitrine_install_prereqs
pids=()
work=$(mktemp -d /tmp/vitrine-checkout-bench.XXXXXX)
config=edge-config/.checkout-bench.toml
cleanup() {
    local rc=$?
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    vitrine_services_down "$rc"
    rm -rf "$work" "$config"
    return "$rc"
}
trap cleanup EXIT
vitrine_services_up

cargo build --release -q -p vitrine-origin -p vitrine-runtime -p vitrine-tests \
    --bin vitrine-origin --bin vitrine-edge --bin vitrine-load --bin vitrine-testpay
bash plugins/build.sh >/dev/null
bin=$PWD/target/release

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
    for _ in $(seq 1 300); do
        curl -fsS "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$1 never answered" >&2
    return 1
}
cpu_secs() { # utime+stime of a process, in seconds
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}
machine_cpu_secs() { # busy CPU seconds of the whole machine (user+nice+system+irq+softirq)
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8) / hz }' /proc/stat
}

"$bin/vitrine-testpay" >"$work/testpay.out" 2>"$work/testpay.log" &
pids+=($!); testpay_pid=$!
for _ in $(seq 1 100); do [ -s "$work/testpay.out" ] && break; sleep 0.1; done
testpay_url=$(head -n1 "$work/testpay.out")
# The sample config, with the rate limit lifted (all shoppers share one IP).
sed -e 's/^rate_limit = .*/rate_limit = { per_second = 1000000, burst = 1000000 }/' \
    edge-config/vitrine.toml >"$config"
secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
origin_port=$(free_port)
edge_port=$(free_port)
export TESTPAY_URL=$testpay_url TESTPAY_HOST=${testpay_url#http://} \
    TESTPAY_API_KEY=sk_test_vitrine_testpay TESTPAY_WEBHOOK_SECRET=whsec_vitrine_testpay \
    VITRINE_EDGE_SECRET=$secret

psql -q "$VITRINE_TEST_DATABASE_URL" -c 'CREATE DATABASE vitrine_checkout_bench'
export DATABASE_URL="${VITRINE_TEST_DATABASE_URL%/*}/vitrine_checkout_bench" REDIS_URL=$VITRINE_TEST_REDIS_URL
"$bin/vitrine-origin" seed --data-dir "$work/origin" --products 20000 | sed 's/^/seed: /'
VITRINE_DB_MAX_CONNECTIONS=32 "$bin/vitrine-origin" serve --data-dir "$work/origin" \
    --listen "127.0.0.1:$origin_port" --plugins-config "$config" >"$work/origin.log" 2>&1 &
pids+=($!); origin_pid=$!
wait_http "http://127.0.0.1:$origin_port/readyz"
VITRINE_ORIGIN_URL="http://127.0.0.1:$origin_port" VITRINE_EDGE_LISTEN="127.0.0.1:$edge_port" \
    VITRINE_CHANGE_FEED=poll "$bin/vitrine-edge" --config "$config" >"$work/edge.log" 2>&1 &
pids+=($!); edge_pid=$!
wait_http "http://127.0.0.1:$edge_port/healthz"

before_origin=$(cpu_secs "$origin_pid"); before_edge=$(cpu_secs "$edge_pid"); before_pay=$(cpu_secs "$testpay_pid")
before_all=$(machine_cpu_secs)
"$bin/vitrine-load" --origin "http://127.0.0.1:$origin_port" --edge "http://127.0.0.1:$edge_port" \
    --scenario checkout --coupon WELCOME10 --concurrency "$shoppers" --seconds "$seconds"
python3 - "$(machine_cpu_secs)" "$before_all" \
    "$(cpu_secs "$origin_pid")" "$before_origin" "$(cpu_secs "$edge_pid")" "$before_edge" \
    "$(cpu_secs "$testpay_pid")" "$before_pay" "$seconds" "$(nproc)" <<'PY'
import sys
a = [float(x) for x in sys.argv[1:9]]
total, origin, edge, pay = a[0] - a[1], a[2] - a[3], a[4] - a[5], a[6] - a[7]
rest = total - origin - edge - pay
print(f"CPU seconds during the run ({sys.argv[9]} s wall, {sys.argv[10]} cores, {total:.2f} busy): "
      f"origin {origin:.2f}, edge {edge:.2f}, testpay {pay:.2f}, "
      f"the rest (PostgreSQL, Redis, the load generator) {rest:.2f}")
PY

# Where the time goes: mean seconds per observation of each histogram.
mean_of() { # url metric-prefix
    curl -fsS "$1" | python3 -c '
import re, sys
prefix = sys.argv[1]
sums, counts = {}, {}
for line in sys.stdin:
    # Label values may hold braces (route="/api/v1/carts/{id}"): the
    # labels run to the last "}", the value follows the last space.
    # Named groups: the prefix may hold groups of its own.
    m = re.match(r"(?P<name>(?:" + prefix + r")[a-z_]*)_(?P<kind>sum|count)(?P<labels>\{.*\})? (?P<value>\S+)$", line.strip())
    if not m:
        continue
    key = m["name"] + (m["labels"] or "")
    (sums if m["kind"] == "sum" else counts)[key] = float(m["value"])
for key in sorted(sums):
    n = counts.get(key, 0)
    if n:
        print(f"  {key:<90} n={int(n):>7}  mean {1000 * sums[key] / n:8.2f} ms")
' "$2"
}
echo "origin (http://127.0.0.1:$origin_port/metrics):"
mean_of "http://127.0.0.1:$origin_port/metrics" 'vitrine_http_request'
echo "edge (origin round trips, plugin calls):"
mean_of "http://127.0.0.1:$edge_port/metrics" 'vitrine_(edge_origin|plugin_call|plugin_http_request)'
