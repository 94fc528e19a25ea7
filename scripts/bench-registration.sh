#!/usr/bin/env bash
# Registration throughput and latency of the release server, against the limit of the
# database underneath (a baseline doing the same writes with no HTTP), on SQLite and
# PostgreSQL, at 8, 32 and 128 connections; then a flash crowd on one visit of 100 seats.
#
#   scripts/bench-registration.sh            # both backends
#   BACKENDS=sqlite scripts/bench-registration.sh
#   DURATION=20 scripts/bench-registration.sh
#
# Needs: wrk (apt-get install wrk), and for PostgreSQL a server on 127.0.0.1:5432 that
# the `postgres` user reaches without a password (PG_ADMIN_URL to change it).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10}"
BACKENDS="${BACKENDS:-sqlite postgres}"
CONNECTIONS="${CONNECTIONS:-8 32 128}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
WORK="$(mktemp -d /tmp/rallypoint-bench.XXXXXX)"
BIN=target/release/rallypoint
SERVER_PID=""

cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is required: apt-get install wrk" >&2; exit 1; }
echo "building the release server and the baseline..." >&2
cargo build --release --quiet --bin rallypoint
cargo bench --no-run --quiet --bench registration_baseline 2>/dev/null
BASELINE=$(ls -t target/release/deps/registration_baseline-* | grep -v '\.d$' | head -1)

fresh_database() { # backend name -> URL
    case "$1" in
        sqlite) echo "$WORK/$2.db" ;;
        postgres)
            psql "$PG_ADMIN_URL" -qc "CREATE DATABASE \"$2\"" >/dev/null
            echo "${PG_ADMIN_URL%/*}/$2" ;;
    esac
}

drop_database() {
    [ "$1" = postgres ] && psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)" >/dev/null || true
}

start_server() { # URL -> sets SERVER_PID, BASE
    RALLYPOINT_DATABASE_URL="$1" "$BIN" migrate >/dev/null
    TOKEN=$(RALLYPOINT_DATABASE_URL="$1" "$BIN" token create --role admin --name bench | tail -1)
    # The delivery worker is off: this measures taking registrations (each one still
    # writes its email to the outbox in its transaction). The per-client limit is off:
    # the load generator is one client.
    local launched
    launched=$(date +%s%N)
    printf '[limits]\npublic_writes_per_minute = 0\n' >"$WORK/bench.toml"
    RALLYPOINT_CONFIG="$WORK/bench.toml" \
    RALLYPOINT_DATABASE_URL="$1" RALLYPOINT_BIND=127.0.0.1:0 RALLYPOINT_EVENTS_DIR=/nonexistent \
        RALLYPOINT_MAIL_WORKER=false RALLYPOINT_LOG=warn "$BIN" serve >"$WORK/server.out" 2>"$WORK/server.err" &
    SERVER_PID=$!
    for _ in $(seq 1 1000); do
        BASE=$(sed -n 's/^listening on //p' "$WORK/server.out")
        [ -n "$BASE" ] && break
        sleep 0.005
    done
    [ -n "$BASE" ] || { cat "$WORK/server.err" >&2; exit 1; }
    until curl -sf "$BASE/readyz" >/dev/null; do sleep 0.005; done
    READY_MS=$(( ($(date +%s%N) - launched) / 1000000 ))
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

api() { # method path body
    curl -sf -X "$1" "$BASE$2" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$3" >/dev/null
}

create_event() { # slug capacity visits...
    local slug=$1 capacity=$2; shift 2
    api POST /api/v1/events "{\"slug\":\"$slug\",\"name\":\"Bench\",\"timezone\":\"Europe/Brussels\",\"starts_on\":\"2030-01-01\",\"ends_on\":\"2030-01-02\"}"
    for visit in "$@"; do
        api POST "/api/v1/events/$slug/site-visits" "{\"slug\":\"$visit\",\"name\":\"$visit\",\"starts_at\":\"2030-01-02T13:30:00+01:00\",\"ends_at\":\"2030-01-02T17:00:00+01:00\",\"capacity\":$capacity}"
    done
}

peak_memory_mb() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER_PID/status"; }
current_memory_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER_PID/status"; }

# wrk's output -> "rate p50 p99 non2xx" (latencies in ms)
parse_wrk() {
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rate = $2 }
        /^ +50%/ { p50 = ms($2) }
        /^ +99%/ { p99 = ms($2) }
        /Non-2xx/ { non2xx = $5 }
        END { printf "%.0f %.2f %.2f %d\n", rate, p50, p99, non2xx + 0 }'
}

RESULTS="$WORK/results"
: >"$RESULTS"
for backend in $BACKENDS; do
    name="rp_bench_$$_$backend"
    url=$(fresh_database "$backend" "$name")
    base_name="rp_bench_$$_${backend}_baseline"
    base_url=$(fresh_database "$backend" "$base_name")
    RALLYPOINT_DATABASE_URL="$base_url" "$BIN" migrate >/dev/null
    if [ "$backend" = sqlite ]; then threads="1"; else threads="1 8"; fi
    for t in $threads; do
        rate=$("$BASELINE" "$base_url" "$t" "$DURATION" | sed -n 's/.* = \([0-9]*\) registrations\/s/\1/p')
        echo "baseline $backend $t $rate" >>"$RESULTS"
        echo "baseline $backend threads=$t: $rate registrations/s" >&2
    done
    drop_database "$backend" "$base_name"

    start_server "$url"
    echo "server $backend idle $(current_memory_mb)" >>"$RESULTS"
    echo "ready $backend $READY_MS" >>"$RESULTS"
    create_event bench 1000000 tour-a tour-b tour-c
    for c in $CONNECTIONS; do
        out=$(wrk -t2 -c"$c" -d"${DURATION}s" --latency -s scripts/register.lua \
            "$BASE/api/v1/events/bench/registrations" -- "c$c" tour-a tour-b tour-c)
        read -r rate p50 p99 non2xx <<<"$(parse_wrk <<<"$out")"
        echo "server $backend $c $rate $p50 $p99 $non2xx $(peak_memory_mb)" >>"$RESULTS"
        echo "server $backend c=$c: $rate/s p50 ${p50} ms p99 ${p99} ms non-2xx $non2xx" >&2
    done
    # The flash crowd: everyone wants the same visit of 100 seats.
    create_event flash 100 hot
    out=$(wrk -t2 -c32 -d"${DURATION}s" --latency -s scripts/register.lua \
        "$BASE/api/v1/events/flash/registrations" -- flash hot)
    read -r rate p50 p99 non2xx <<<"$(parse_wrk <<<"$out")"
    seats=$(curl -s "$BASE/api/v1/events/flash" | sed -n 's/.*"assigned":\([0-9]*\).*/\1/p')
    echo "flash $backend 32 $rate $p50 $p99 $non2xx $seats" >>"$RESULTS"
    echo "flash $backend: $rate/s p99 ${p99} ms, $seats of 100 seats taken" >&2
    stop_server
    drop_database "$backend" "$name"
done

echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); load generator (wrk -t2) on the same cores; ${DURATION} s per run."
echo
echo "| backend | connections | registrations/s | p50 ms | p99 ms | non-2xx | peak MB | baseline/s | ratio |"
echo "|---|---|---|---|---|---|---|---|---|"
while read -r kind backend c rate p50 p99 non2xx peak; do
    [ "$kind" = server ] && [ "$c" != idle ] || continue
    if [ "$backend" = sqlite ]; then ref=$(awk '$1=="baseline" && $2=="sqlite" && $3==1 {print $4}' "$RESULTS");
    else ref=$(awk '$1=="baseline" && $2=="postgres" && $3==8 {print $4}' "$RESULTS"); fi
    ratio=$(awk -v a="$rate" -v b="$ref" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    echo "| $backend | $c | $rate | $p50 | $p99 | $non2xx | $peak | $ref | ${ratio}× |"
done <"$RESULTS"
echo
awk '$1=="baseline" {printf "baseline %s, %s thread(s): %s registrations/s\n", $2, $3, $4}' "$RESULTS"
awk '$1=="server" && $3=="idle" {printf "idle memory after start (%s): %s MB\n", $2, $4}' "$RESULTS"
awk '$1=="ready" {printf "start-up to ready (%s, migrated database, from launch to /readyz 200): %s ms\n", $2, $3}' "$RESULTS"
awk '$1=="flash" {printf "flash crowd (%s, 32 connections, one visit of 100): %s registrations/s, p99 %s ms, non-2xx %s, seats taken %s\n", $2, $4, $6, $7, $8}' "$RESULTS"
echo
echo "rerun: scripts/bench-registration.sh   (DURATION=$DURATION BACKENDS=\"$BACKENDS\")"
