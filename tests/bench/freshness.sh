#!/usr/bin/env bash
# End-to-end freshness: from an ERP webhook changing a price to the edge
# serving the new price on the product page and in search.
#
#   tests/bench/freshness.sh [changes] [concurrency] [products]
#
# Builds release binaries, then measures two setups back to back, each with
# its own origin and edge process on free loopback ports:
#   1. the embedded default: SQLite, the database queue, the edge following
#      the origin's HTTP change feed;
#   2. production parts: PostgreSQL, Redis (the change stream the edge
#      follows), and SQS FIFO on the local SQS-compatible server (moto).
# Each origin is seeded with a generated catalog. `vitrine-freshness` warms
# the edge's copy of each product page and search answer, sends signed
# price events, polls the edge until both show the new price, and prints
# p50/p90/p99/max. Load goes to 127.0.0.1 only; the run is bounded by the
# number of changes and a 10 s deadline per change.
set -euo pipefail
cd "$(dirname "$0")/../.."
changes=${1:-300}
concurrency=${2:-4}
products=${3:-20000}

# shellcheck source=.ci/services.sh
source .ci/services.sh
vitrine_install_prereqs
pids=()
work=$(mktemp -d /tmp/vitrine-freshness.XXXXXX)
cleanup() {
    local rc=$?
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
    vitrine_services_down "$rc"
    rm -rf "$work"
    return "$rc"
}
trap cleanup EXIT
vitrine_services_up

# VITRINE_BENCH_PROFILE=dev measures debug builds (quicker to build, slower to run).
profile=${VITRINE_BENCH_PROFILE:-release}
cargo build --profile "$profile" -q -p vitrine-origin -p vitrine-runtime -p vitrine-tests \
    --bin vitrine-origin --bin vitrine-edge --bin vitrine-freshness
bin=$PWD/target/$([ "$profile" = dev ] && echo debug || echo "$profile")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {
    for _ in $(seq 1 300); do
        curl -fsS "$1/readyz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "freshness.sh: $1 never became ready" >&2
    return 1
}

secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
edge_secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')

# The edge's config: the sample's routes that matter here, no plugins, and a
# rate limit the poller does not hit (it polls search every few ms from one IP).
edge_config() {
    local listen=$1 origin=$2 feed=$3
    cat <<EOF
version = 1

[edge]
listen = "$listen"
origin = "$origin"
origin_timeout_ms = 5000
cache_mb = 256
signing_secret = "$edge_secret"
rate_limit = { per_second = 1000000, burst = 1000000 }
change_feed = $feed

[[routes]]
path = "/api/v1/search*"
rate_limited = true
EOF
}

run_setup() {
    local label=$1 feed=$2; shift 2
    local origin_port edge_port
    origin_port=$(free_port)
    edge_port=$(free_port)
    local origin="http://127.0.0.1:$origin_port" edge="http://127.0.0.1:$edge_port"
    echo "== $label"
    env "$@" "$bin/vitrine-origin" seed --data-dir "$work/$label" --products "$products" | sed 's/^/   seed: /'
    env "$@" VITRINE_ERP_WEBHOOK_SECRET="$secret" VITRINE_EDGE_SECRET="$edge_secret" \
        "$bin/vitrine-origin" serve --data-dir "$work/$label" --listen "127.0.0.1:$origin_port" \
        >"$work/$label-origin.log" 2>&1 &
    pids+=($!)
    wait_ready "$origin"
    edge_config "127.0.0.1:$edge_port" "$origin" "$feed" >"$work/$label-edge.toml"
    "$bin/vitrine-edge" --config "$work/$label-edge.toml" >"$work/$label-edge.log" 2>&1 &
    pids+=($!)
    wait_ready "$edge"
    # The search index is built in the background after seeding.
    for _ in $(seq 1 600); do
        curl -fsS "$origin/api/v1/search?q=drill" >/dev/null 2>&1 && break
        sleep 0.1
    done
    "$bin/vitrine-freshness" --origin "$origin" --edge "$edge" --secret "$secret" \
        --changes "$changes" --concurrency "$concurrency" --label "$label" ||
        { echo "--- origin log"; tail -20 "$work/$label-origin.log"; echo "--- edge log"; tail -20 "$work/$label-edge.log"; return 1; }
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
    pids=()
}

run_setup embedded '{ kind = "poll" }'

db="${VITRINE_TEST_DATABASE_URL%/*}/vitrine_freshness"
psql -q "$VITRINE_TEST_DATABASE_URL" -c 'DROP DATABASE IF EXISTS vitrine_freshness' -c 'CREATE DATABASE vitrine_freshness'
queues=$(VITRINE_SQS_ENDPOINT="$VITRINE_TEST_SQS_ENDPOINT" "$bin/vitrine-origin" sqs-create-queues \
    --name "vitrine-freshness-$RANDOM")
queue_url=$(sed -n 's/^VITRINE_SQS_QUEUE_URL=//p' <<<"$queues")
dlq_url=$(sed -n 's/^VITRINE_SQS_DLQ_URL=//p' <<<"$queues")
run_setup postgres-redis-sqs "{ kind = \"redis\", url = \"$VITRINE_TEST_REDIS_URL\" }" \
    DATABASE_URL="$db" REDIS_URL="$VITRINE_TEST_REDIS_URL" \
    VITRINE_SYNC_QUEUE=sqs VITRINE_SQS_ENDPOINT="$VITRINE_TEST_SQS_ENDPOINT" \
    VITRINE_SQS_QUEUE_URL="$queue_url" VITRINE_SQS_DLQ_URL="$dlq_url"
