#!/usr/bin/env bash
# Load benchmark of the origin's cart reads and order creation.
#
#   tests/bench/origin-load.sh [seconds-per-scenario] [concurrency]
#
# Starts throwaway PostgreSQL and Redis (.ci/services.sh), builds release
# binaries, seeds 50,000 demo products, runs `vitrine-origin serve` as its own
# process on a free loopback port, and drives it with `vitrine-load`. Then the
# same against the embedded default (SQLite file, carts in SQLite), so the two
# are compared in one run on the same machine. Load goes to 127.0.0.1 only and
# every scenario is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
concurrency=${2:-32}

# shellcheck source=.ci/services.sh
source .ci/services.sh
vitrine_install_prereqs
origin_pid=
work=$(mktemp -d /tmp/vitrine-bench.XXXXXX)
cleanup() {
    local rc=$?
    [ -n "$origin_pid" ] && kill "$origin_pid" 2>/dev/null && wait "$origin_pid" 2>/dev/null
    vitrine_services_down "$rc"
    rm -rf "$work"
    return "$rc"
}
trap cleanup EXIT
vitrine_services_up

cargo build --release -q -p vitrine-origin -p vitrine-tests --bin vitrine-origin --bin vitrine-load
bin=target/release

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_against() {
    local label=$1; shift
    local port; port=$(free_port)
    echo "== $label"
    local t0; t0=$(date +%s.%N)
    env "$@" "$bin/vitrine-origin" seed --data-dir "$work/$label" --products 50000 | sed 's/^/   seed: /'
    echo "   seed wall time: $(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 2))") s"
    env "$@" "$bin/vitrine-origin" serve --data-dir "$work/$label" --listen "127.0.0.1:$port" >"$work/$label.log" 2>&1 &
    origin_pid=$!
    for _ in $(seq 1 100); do
        curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    "$bin/vitrine-load" --origin "http://127.0.0.1:$port" --concurrency "$concurrency" --seconds "$seconds"
    kill "$origin_pid"; wait "$origin_pid" 2>/dev/null || true
    origin_pid=
}

psql -q "$VITRINE_TEST_DATABASE_URL" -c 'CREATE DATABASE vitrine_bench'
pg_url="${VITRINE_TEST_DATABASE_URL%/*}/vitrine_bench"
run_against postgres-redis DATABASE_URL="$pg_url" REDIS_URL="$VITRINE_TEST_REDIS_URL" VITRINE_DB_MAX_CONNECTIONS=32
run_against embedded VITRINE_DB_MAX_CONNECTIONS=8
