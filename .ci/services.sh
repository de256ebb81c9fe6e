# shellcheck shell=bash
#
# Throwaway PostgreSQL 15, Redis and an SQS-compatible server (moto) for the
# test suite.
#
# Source this file, then:
#
#   vitrine_install_prereqs    # redis-server via apt if missing; moto in a venv; chromium via apt and
#                              # tests/browser's npm dependencies if missing; detects cargo-nextest
#   trap vitrine_services_down EXIT
#   vitrine_services_up        # exports VITRINE_TEST_DATABASE_URL / VITRINE_TEST_REDIS_URL /
#                              # VITRINE_TEST_SQS_ENDPOINT (and dummy AWS credentials if unset)
#
# Every run gets its own temp dir and its own free loopback ports, so several
# runs (two checkouts, two CI jobs on one box) never share a server.
#
# This file is a library: it does not run `set -euo pipefail` itself, because
# that would change the options of whatever shell sources it. Every function
# checks its own steps and returns non-zero on failure, so it behaves the same
# with or without `set -e` in the caller (tests/run uses `set -euo pipefail`).

# Overridable so the scripts also work where PostgreSQL 15 lives elsewhere.
: "${VITRINE_PG_BINDIR:=/usr/lib/postgresql/15/bin}"

# moto (an SQS-compatible server for the SQS queue's tests) lives in a venv of
# its own, created once and reused by every later run on the machine. The
# version is pinned so a new moto release cannot change the tests' behaviour
# behind our back; bumping it reinstalls the venv.
: "${VITRINE_MOTO_VERSION:=5.2.5}"
: "${VITRINE_MOTO_VENV:=${HOME:-/root}/.cache/vitrine/moto-venv}"

# The repository this file belongs to (tests/browser lives there).
_VITRINE_REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)

# Run state. Plain shell variables on purpose, not exported: a nested
# tests/run must start its own services, not tear down ours.
VITRINE_SERVICES_DIR=${VITRINE_SERVICES_DIR:-}
VITRINE_SERVICES_PG_PORT=${VITRINE_SERVICES_PG_PORT:-}
VITRINE_SERVICES_REDIS_PORT=${VITRINE_SERVICES_REDIS_PORT:-}
VITRINE_SERVICES_MOTO_PORT=${VITRINE_SERVICES_MOTO_PORT:-}
# The AWS_* variables vitrine_services_up set itself (and so unsets again).
VITRINE_SERVICES_AWS_VARS=${VITRINE_SERVICES_AWS_VARS:-}
VITRINE_HAVE_NEXTEST=${VITRINE_HAVE_NEXTEST:-0}

# Temp dirs are always created under /tmp, not $TMPDIR: the postgres user has
# to be able to traverse every parent directory (a $TMPDIR under /root would
# not allow that), and the Unix socket path must stay under the ~107-byte
# limit.
_VITRINE_TMP_BASE=/tmp
_VITRINE_TMP_PREFIX=vitrine-services.

_vitrine_log() {
    printf 'vitrine-services: %s\n' "$*" >&2
}

# Runs a PostgreSQL command as the postgres user when we are root (initdb and
# the server refuse to run as root). `cd /` first because the caller's cwd
# (e.g. under /root) may be unreadable for postgres, which makes initdb warn.
_vitrine_as_pg() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# Prints the last lines of a service log, so a failed start explains itself
# in CI output.
_vitrine_dump_log() {
    local name=$1 file=$2
    if [[ -s $file ]]; then
        _vitrine_log "---- $name log ($file), last 50 lines ----"
        tail -n 50 -- "$file" >&2
        _vitrine_log "---- end of $name log ----"
    else
        _vitrine_log "($name log $file is missing or empty)"
    fi
}

# Prints N distinct free loopback ports, one per line. All sockets are held
# open until every port is chosen, so the N ports differ from each other.
# Another process can still grab a port before our server binds it; the
# start functions detect "address in use" and retry with fresh ports.
_vitrine_free_ports() {
    local n=$1
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$n" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
PY
        return
    fi
    # No python3: random high ports that nothing answers on. Good enough
    # together with the retry on "address in use".
    local i port
    for ((i = 0; i < n; i++)); do
        while :; do
            port=$((20000 + RANDOM % 40000))
            if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
                printf '%s\n' "$port"
                break
            fi
        done
    done
}

# True if process $1 exists and is neither a zombie nor dead.
_vitrine_pid_alive() {
    local pid=$1 stat state
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    state=${stat##*\) }
    state=${state%% *}
    [[ $state != [ZX] ]]
}

# True if pid is alive and its command name starts with $2. Guards every kill
# against a pid file whose pid has since been reused by something else.
# A zombie counts as gone: daemons are reparented to PID 1, and on machines
# whose PID 1 reaps lazily (ours: ~1-2 s) waiting for the zombie to vanish
# would only add seconds to every run.
_vitrine_pid_is() {
    local pid=$1 name=$2 stat comm state
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    # Format: "pid (comm) state ..."; comm may itself contain ") ".
    comm=${stat#*\(}
    comm=${comm%\)*}
    state=${stat##*\) }
    state=${state%% *}
    [[ $state != [ZX] && $comm == "$name"* ]]
}

vitrine_install_prereqs() {
    local sudo=()
    if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
        if [[ $EUID -ne 0 ]]; then
            if command -v sudo >/dev/null 2>&1; then
                sudo=(sudo)
            else
                _vitrine_log "redis-server is missing and we are not root; install the redis-server package"
                return 1
            fi
        fi
        _vitrine_log "redis-server not found; installing it with apt-get"
        # Lock timeout: two runs on a fresh box may both try to install.
        local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
        # `apt-get update` costs seconds and network; only run it when the
        # package lists do not know redis-server yet, or when installing from
        # the lists we have fails (stale lists point at removed files).
        # (Captured first: `grep -q` exiting early would SIGPIPE apt-cache,
        # and pipefail would turn that into a false "not found".)
        local policy
        policy=$(apt-cache policy redis-server 2>/dev/null) || policy=
        if [[ $policy != *"Candidate: "[0-9]* ]]; then
            "${apt[@]}" update || return 1
        fi
        if ! "${apt[@]}" install -y --no-install-recommends redis-server; then
            _vitrine_log "apt-get install failed; refreshing package lists and retrying"
            "${apt[@]}" update || return 1
            "${apt[@]}" install -y --no-install-recommends redis-server || return 1
        fi
        command -v redis-server >/dev/null 2>&1 || {
            _vitrine_log "redis-server still not on PATH after installing it"
            return 1
        }
    fi

    local bin
    for bin in initdb pg_ctl pg_isready; do
        if [[ ! -x $VITRINE_PG_BINDIR/$bin ]]; then
            _vitrine_log "$VITRINE_PG_BINDIR/$bin not found; install PostgreSQL 15 (package postgresql-15) or set VITRINE_PG_BINDIR"
            return 1
        fi
    done
    if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        _vitrine_log "no 'postgres' user to run PostgreSQL as (it refuses to run as root)"
        return 1
    fi

    # Plugins and the plugin host's test guests are WebAssembly components
    # built from source for wasm32-wasip2.
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
        _vitrine_log "adding the wasm32-wasip2 target with rustup"
        rustup target add wasm32-wasip2 || return 1
    fi

    _vitrine_moto_install || return 1

    _vitrine_browser_install || return 1

    # cargo-nextest is preinstalled on our machines. If it is missing we do
    # not install it (a source build takes minutes); tests/run falls back to
    # plain `cargo test`.
    if cargo nextest --version >/dev/null 2>&1; then
        VITRINE_HAVE_NEXTEST=1
    else
        VITRINE_HAVE_NEXTEST=0
        _vitrine_log "cargo-nextest not found; tests will run with plain 'cargo test'"
    fi
}

# Starts PostgreSQL 15 on a free port inside $VITRINE_SERVICES_DIR.
_vitrine_pg_up() {
    local dir=$VITRINE_SERVICES_DIR
    local data=$dir/pgdata sock=$dir/pgsock log=$dir/postgres.log
    local port attempt i

    mkdir -p -- "$sock" || return 1
    if [[ $EUID -eq 0 ]]; then
        chown postgres: -- "$sock" || return 1
    fi

    # --no-sync: the cluster is thrown away, so skip initdb's fsyncs (the
    # slowest part of initdb). UTF8 and C.UTF-8 are explicit so that results
    # do not depend on the LANG of whoever runs the tests (an unset LANG
    # would otherwise give an SQL_ASCII database).
    if ! _vitrine_as_pg "$VITRINE_PG_BINDIR/initdb" -D "$data" --auth=trust -U postgres \
        --no-sync --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
        _vitrine_log "initdb failed"
        _vitrine_dump_log initdb "$dir/initdb.log"
        return 1
    fi

    for attempt in 1 2 3 4 5; do
        port=$(_vitrine_free_ports 1) || return 1
        VITRINE_SERVICES_PG_PORT=$port
        # A fresh log per attempt, so the checks below only see this attempt.
        rm -f -- "$log"
        # fsync/synchronous_commit/full_page_writes off: durability is
        # worthless for a throwaway cluster and costs test time.
        # max_connections=300: every test binary opens its own pools and
        # nextest runs many of them at once.
        # -w: pg_ctl waits until this postmaster reports ready in its own
        # postmaster.pid, so we never mistake another server on the port
        # for ours.
        if _vitrine_as_pg "$VITRINE_PG_BINDIR/pg_ctl" -D "$data" -l "$log" -w -t 60 \
            -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
            start >"$dir/pg_ctl.log" 2>&1 </dev/null; then
            break
        fi
        if grep -qE 'could not bind|Address already in use' "$log" 2>/dev/null && ((attempt < 5)); then
            _vitrine_log "postgres: port $port was taken meanwhile; retrying with another"
            continue
        fi
        _vitrine_log "postgres failed to start"
        _vitrine_dump_log pg_ctl "$dir/pg_ctl.log"
        _vitrine_dump_log postgres "$log"
        return 1
    done

    # pg_ctl -w already waited; this is the check the tests' clients see:
    # a TCP connection on the loopback address.
    for ((i = 0; i < 300; i++)); do
        if "$VITRINE_PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -t 1; then
            return 0
        fi
        sleep 0.1
    done
    _vitrine_log "postgres on 127.0.0.1:$port did not answer pg_isready within 30 s"
    _vitrine_dump_log postgres "$log"
    return 1
}

# Starts redis-server on a free port inside $VITRINE_SERVICES_DIR/redis.
_vitrine_redis_up() {
    local rdir=$VITRINE_SERVICES_DIR/redis
    local log=$rdir/redis.log pidfile=$rdir/redis.pid
    local port attempt i pid reply info ok

    if ! command -v redis-server >/dev/null 2>&1; then
        _vitrine_log "redis-server not found (call vitrine_install_prereqs first)"
        return 1
    fi
    mkdir -p -- "$rdir" || return 1

    for attempt in 1 2 3 4 5; do
        port=$(_vitrine_free_ports 1) || return 1
        VITRINE_SERVICES_REDIS_PORT=$port
        rm -f -- "$pidfile" "$log"
        # --save '' / --appendonly no: no persistence for a throwaway server.
        # --logfile: a daemonized redis otherwise logs to /dev/null and a
        # failed start could not be explained.
        # Redirecting all three std streams keeps the daemon off our stdout,
        # so a CI job that pipes our output does not wait for it to close.
        # Config errors are printed before the log file is opened, hence
        # redis-start.log.
        if ! redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
            --save '' --appendonly no --dir "$rdir" --pidfile "$pidfile" \
            --logfile "$log" </dev/null >"$rdir/redis-start.log" 2>&1; then
            _vitrine_log "redis-server failed to start"
            _vitrine_dump_log redis-server "$rdir/redis-start.log"
            _vitrine_dump_log redis "$log"
            return 1
        fi

        # The daemonized child binds the port after the parent has already
        # exited 0, so success means: our pid (from our pid file) is alive and
        # the server answering PING on the port reports that same pid. That
        # also rules out talking to some other redis that owns the port.
        ok=0
        for ((i = 0; i < 200; i++)); do
            if grep -qE 'Address already in use|Could not create server TCP listening socket' "$log" 2>/dev/null; then
                break
            fi
            pid=$(cat -- "$pidfile" 2>/dev/null) || pid=
            if [[ -n $pid ]]; then
                _vitrine_pid_is "$pid" redis-server || break
                reply=$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) || reply=
                if [[ $reply == PONG ]]; then
                    info=$(redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null) || info=
                    if [[ $info == *"process_id:$pid"* ]]; then
                        ok=1
                        break
                    fi
                fi
            fi
            sleep 0.05
        done
        ((ok)) && return 0

        if grep -qE 'Address already in use' "$log" 2>/dev/null && ((attempt < 5)); then
            _vitrine_log "redis: port $port was taken meanwhile; retrying with another"
            continue
        fi
        _vitrine_log "redis on 127.0.0.1:$port did not answer PING within 10 s"
        _vitrine_dump_log redis "$log"
        return 1
    done
    return 1
}

# True if the moto venv holds exactly the pinned version with its server.
_vitrine_moto_ok() {
    local venv=$1
    [[ -x $venv/bin/python && -x $venv/bin/moto_server ]] || return 1
    "$venv/bin/python" - "$VITRINE_MOTO_VERSION" <<'PY' >/dev/null 2>&1
import sys
import flask  # noqa: F401  (the [server] extra)
import moto
sys.exit(0 if moto.__version__ == sys.argv[1] else 1)
PY
}

# What the storefront's browser test (tests/tests/storefront_browser.rs)
# runs: Debian's chromium, and playwright-core from tests/browser's lock
# file. Without node 20+ nothing is installed and the test itself says what
# is missing (it fails under VITRINE_REQUIRE_SERVICES or CI).
_vitrine_browser_install() {
    local browser=$_VITRINE_REPO/tests/browser
    if [[ ! -x /usr/bin/chromium ]]; then
        if [[ $EUID -ne 0 ]] && ! command -v sudo >/dev/null 2>&1; then
            _vitrine_log "chromium is missing and we are not root; install the chromium package"
            return 1
        fi
        local sudo=()
        [[ $EUID -eq 0 ]] || sudo=(sudo)
        _vitrine_log "chromium not found; installing it with apt-get"
        local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
        local policy
        policy=$(apt-cache policy chromium 2>/dev/null) || policy=
        if [[ $policy != *"Candidate: "[0-9]* ]]; then
            "${apt[@]}" update || return 1
        fi
        if ! "${apt[@]}" install -y --no-install-recommends chromium; then
            _vitrine_log "apt-get install failed; refreshing package lists and retrying"
            "${apt[@]}" update || return 1
            "${apt[@]}" install -y --no-install-recommends chromium || return 1
        fi
        [[ -x /usr/bin/chromium ]] || {
            _vitrine_log "/usr/bin/chromium still missing after installing chromium"
            return 1
        }
    fi

    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        _vitrine_log "node/npm not found; the storefront browser test needs node 20 or later"
        return 0
    fi
    # Installed, and the version the lock file names (a bumped lock reinstalls).
    if (cd -- "$browser" && node -e '
        const want = require("./package-lock.json").packages["node_modules/playwright-core"].version;
        const have = require("./node_modules/playwright-core/package.json").version;
        process.exit(want === have ? 0 : 1);' 2>/dev/null); then
        return 0
    fi
    _vitrine_log "installing the browser test's npm dependencies (npm ci in tests/browser)"
    (cd -- "$browser" && npm ci --no-audit --no-fund) || {
        _vitrine_log "npm ci in $browser failed"
        return 1
    }
}

# Installs moto[server]==$VITRINE_MOTO_VERSION from PyPI into
# $VITRINE_MOTO_VENV, unless it is there already. The venv is built beside its
# final place and renamed into it, so a failed or interrupted install is never
# mistaken for a finished one, and two runs installing at once do not mix.
_vitrine_moto_install() {
    local venv=$VITRINE_MOTO_VENV tmp log
    _vitrine_moto_ok "$venv" && return 0

    if ! command -v python3 >/dev/null 2>&1; then
        _vitrine_log "python3 not found; it is needed for moto (the SQS test server)"
        return 1
    fi
    _vitrine_log "installing moto[server]==$VITRINE_MOTO_VERSION into $venv"
    mkdir -p -- "$(dirname -- "$venv")" || return 1
    tmp=$(mktemp -d "$venv.tmp.XXXXXXXX") || return 1
    log=$tmp.log
    # Debian's python3 has no venv module without the python3-venv package.
    if ! python3 -m venv "$tmp" >"$log" 2>&1; then
        if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
            _vitrine_log "python3 -m venv failed; installing python3-venv with apt-get"
            local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
            # Failures here are reported by the check below, with the log.
            if ! "${apt[@]}" install -y --no-install-recommends python3-venv >>"$log" 2>&1; then
                "${apt[@]}" update >>"$log" 2>&1 || true
                "${apt[@]}" install -y --no-install-recommends python3-venv >>"$log" 2>&1 || true
            fi
            rm -rf -- "$tmp"
            mkdir -p -- "$tmp" || return 1
            python3 -m venv "$tmp" >>"$log" 2>&1 || true
        fi
    fi
    if [[ ! -x $tmp/bin/python ]]; then
        _vitrine_log "could not create a python venv for moto"
        _vitrine_dump_log "python3 -m venv" "$log"
        rm -rf -- "$tmp" "$log"
        return 1
    fi
    if ! "$tmp/bin/python" -m pip install -q --disable-pip-version-check \
        "moto[server]==$VITRINE_MOTO_VERSION" >>"$log" 2>&1; then
        _vitrine_log "pip install moto[server]==$VITRINE_MOTO_VERSION failed"
        _vitrine_dump_log pip "$log"
        rm -rf -- "$tmp" "$log"
        return 1
    fi
    if _vitrine_moto_ok "$venv"; then
        # Another run finished first; use its venv.
        rm -rf -- "$tmp" "$log"
        return 0
    fi
    rm -rf -- "$venv"
    if ! mv -T -- "$tmp" "$venv"; then
        _vitrine_log "could not move the moto venv into $venv"
        rm -rf -- "$tmp" "$log"
        return 1
    fi
    # The venv's scripts (moto_server, pip, activate) name their interpreter
    # by absolute path, $tmp's; point them at the venv's final place.
    grep -lrIZ -- "$tmp" "$venv/bin" 2>/dev/null | xargs -0r sed -i "s#$tmp#$venv#g" || true
    rm -f -- "$log"
    if ! _vitrine_moto_ok "$venv"; then
        _vitrine_log "moto installed into $venv but does not import"
        return 1
    fi
}

# True if an HTTP server answers on 127.0.0.1:$1 (any status line will do).
_vitrine_http_answers() {
    local port=$1 line
    (
        exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
        printf 'GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
        IFS= read -r -t 2 line <&3 || exit 1
        [[ $line == HTTP/* ]]
    ) 2>/dev/null
}

# Starts moto's server on a free port inside $VITRINE_SERVICES_DIR/moto.
_vitrine_moto_up() {
    local mdir=$VITRINE_SERVICES_DIR/moto
    local log=$mdir/moto.log pidfile=$mdir/moto.pid
    local bin=$VITRINE_MOTO_VENV/bin/moto_server
    local port attempt i pid ok

    if [[ ! -x $bin ]]; then
        _vitrine_log "$bin not found (call vitrine_install_prereqs first)"
        return 1
    fi
    mkdir -p -- "$mdir" || return 1

    for attempt in 1 2 3 4 5; do
        port=$(_vitrine_free_ports 1) || return 1
        VITRINE_SERVICES_MOTO_PORT=$port
        rm -f -- "$pidfile" "$log"
        # moto does not daemonize: it runs as our background child, with all
        # three std streams redirected so that a CI job piping our output does
        # not wait for it to close them.
        "$bin" -H 127.0.0.1 -p "$port" </dev/null >"$log" 2>&1 &
        pid=$!
        disown "$pid" 2>/dev/null || true
        printf '%s\n' "$pid" >"$pidfile"

        # Python imports take a few seconds on a cold cache. Success means
        # our process is still alive and something answers HTTP on the port;
        # if another server had the port, moto would have exited.
        # Until the forked shell has exec'd moto_server, the child's name is
        # still the shell's: on a loaded machine that takes a while, so the
        # loop only asks for the name once the child is alive at all.
        ok=0
        for ((i = 0; i < 300; i++)); do
            _vitrine_pid_alive "$pid" || break
            if _vitrine_pid_is "$pid" moto_server && _vitrine_http_answers "$port"; then
                _vitrine_pid_is "$pid" moto_server && ok=1
                break
            fi
            sleep 0.1
        done
        ((ok)) && return 0

        if _vitrine_pid_alive "$pid"; then
            _vitrine_log "moto on 127.0.0.1:$port did not answer HTTP within 30 s"
            kill -KILL "$pid" 2>/dev/null || true
        elif grep -qE 'Address already in use' "$log" 2>/dev/null && ((attempt < 5)); then
            _vitrine_log "moto: port $port was taken meanwhile; retrying with another"
            continue
        else
            _vitrine_log "moto exited before answering on 127.0.0.1:$port"
        fi
        _vitrine_dump_log moto "$log"
        return 1
    done
    return 1
}

vitrine_services_up() {
    if [[ -n $VITRINE_SERVICES_DIR && -d $VITRINE_SERVICES_DIR ]]; then
        _vitrine_log "services already running in $VITRINE_SERVICES_DIR; call vitrine_services_down first"
        return 1
    fi

    VITRINE_SERVICES_DIR=$(mktemp -d "$_VITRINE_TMP_BASE/${_VITRINE_TMP_PREFIX}XXXXXXXX") || return 1
    # 755 and owned by postgres: initdb (running as postgres) creates its data
    # dir and log inside; root can still write the redis dir next to them.
    chmod 755 -- "$VITRINE_SERVICES_DIR" || return 1
    if [[ $EUID -eq 0 ]]; then
        chown postgres: -- "$VITRINE_SERVICES_DIR" || return 1
    fi

    _vitrine_pg_up || return 1
    _vitrine_redis_up || return 1
    _vitrine_moto_up || return 1

    # An admin URL: tests create (and drop) their own databases from it.
    export VITRINE_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$VITRINE_SERVICES_PG_PORT/postgres"
    export VITRINE_TEST_REDIS_URL="redis://127.0.0.1:$VITRINE_SERVICES_REDIS_PORT/"
    export VITRINE_TEST_SQS_ENDPOINT="http://127.0.0.1:$VITRINE_SERVICES_MOTO_PORT"
    # moto takes any credentials, but the AWS SDK signs every request and
    # wants some; real ones already in the environment are left alone.
    local var
    VITRINE_SERVICES_AWS_VARS=
    for var in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION; do
        if [[ -z ${!var:-} ]]; then
            case $var in
                AWS_REGION) export AWS_REGION=us-east-1 ;;
                *) export "$var=test" ;;
            esac
            VITRINE_SERVICES_AWS_VARS+=" $var"
        fi
    done

    _vitrine_log "postgres 15 on 127.0.0.1:$VITRINE_SERVICES_PG_PORT ($VITRINE_TEST_DATABASE_URL, log $VITRINE_SERVICES_DIR/postgres.log)"
    _vitrine_log "redis on 127.0.0.1:$VITRINE_SERVICES_REDIS_PORT ($VITRINE_TEST_REDIS_URL, log $VITRINE_SERVICES_DIR/redis/redis.log)"
    _vitrine_log "moto $VITRINE_MOTO_VERSION (SQS) on 127.0.0.1:$VITRINE_SERVICES_MOTO_PORT ($VITRINE_TEST_SQS_ENDPOINT, log $VITRINE_SERVICES_DIR/moto/moto.log)"
}

# Stops whatever vitrine_services_up managed to start and removes its temp
# dir. Idempotent, copes with a half-finished startup, and every step is
# guarded so that `set -e` cannot abort it halfway. It returns the $? it was
# called with: under `set -e` a non-zero status from an EXIT trap would
# replace the script's exit code, and a zero one would hide a failure.
vitrine_services_down() {
    local status=$?
    local dir=$VITRINE_SERVICES_DIR pid i

    if [[ -z $dir ]]; then
        return "$status"
    fi
    # Refuse to rm -rf anything but one of our own temp dirs, whatever the
    # variable was set to.
    if [[ $dir != "$_VITRINE_TMP_BASE/$_VITRINE_TMP_PREFIX"* || $dir == *..* ]]; then
        _vitrine_log "not removing unexpected services dir '$dir'"
        return "$status"
    fi

    if [[ -f $dir/pgdata/postmaster.pid ]]; then
        # Immediate mode: no shutdown checkpoint, the data is thrown away.
        _vitrine_as_pg "$VITRINE_PG_BINDIR/pg_ctl" -D "$dir/pgdata" stop -m immediate -w -t 30 \
            >/dev/null 2>&1 </dev/null || true
        pid=$(head -n 1 -- "$dir/pgdata/postmaster.pid" 2>/dev/null) || pid=
        if [[ -n $pid ]] && _vitrine_pid_is "$pid" postgres; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi

    if [[ -d $dir/redis ]]; then
        # A start interrupted right after launching the daemon may not have
        # a pid file yet; give it a moment to appear.
        i=0
        while [[ ! -s $dir/redis/redis.pid ]] && ((i++ < 20)); do
            sleep 0.05
        done
        pid=$(cat -- "$dir/redis/redis.pid" 2>/dev/null) || pid=
        if [[ -n $pid ]] && _vitrine_pid_is "$pid" redis-server; then
            kill -TERM "$pid" 2>/dev/null || true
            for ((i = 0; i < 100; i++)); do
                _vitrine_pid_is "$pid" redis-server || break
                sleep 0.05
            done
            if _vitrine_pid_is "$pid" redis-server; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
    fi

    if [[ -d $dir/moto ]]; then
        pid=$(cat -- "$dir/moto/moto.pid" 2>/dev/null) || pid=
        if [[ -n $pid ]] && _vitrine_pid_is "$pid" moto_server; then
            kill -TERM "$pid" 2>/dev/null || true
            for ((i = 0; i < 100; i++)); do
                _vitrine_pid_is "$pid" moto_server || break
                sleep 0.05
            done
            if _vitrine_pid_is "$pid" moto_server; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
    fi

    rm -rf -- "$dir" || true
    VITRINE_SERVICES_DIR=
    VITRINE_SERVICES_PG_PORT=
    VITRINE_SERVICES_REDIS_PORT=
    VITRINE_SERVICES_MOTO_PORT=
    unset VITRINE_TEST_DATABASE_URL VITRINE_TEST_REDIS_URL VITRINE_TEST_SQS_ENDPOINT
    if [[ -n $VITRINE_SERVICES_AWS_VARS ]]; then
        # shellcheck disable=SC2086 # a space-separated list of names
        unset $VITRINE_SERVICES_AWS_VARS
    fi
    VITRINE_SERVICES_AWS_VARS=
    return "$status"
}
