#!/usr/bin/env bash
# Registration throughput and latency of the release server, against the minimal-writes
# baseline (benches/registration_baseline.rs: the same writes with no HTTP, no counters
# and no rallypoint logic) at the same number of connections, on SQLite and PostgreSQL,
# at 8, 32 and 128 connections; then a flash crowd on one visit of 100 seats. Ends with
# the targets of issue 15, each marked met or not met.
#
#   scripts/bench-registration.sh                  # both backends, the realistic load
#   BACKENDS=sqlite scripts/bench-registration.sh
#   DURATION=20 scripts/bench-registration.sh      # seconds per step (default 10)
#   LOAD=friendly scripts/bench-registration.sh    # the old load: one choice, one country
#   CONNECTIONS="8 32" FLASH_REGISTRATIONS=10000 scripts/bench-registration.sh
#
# The realistic load (scripts/register.lua): each registration ranks three distinct
# visits in one of their six orders, the country cycles through 20 ISO codes, and every
# email is new. The flash crowd sends exactly FLASH_REGISTRATIONS (default 10,000) at one
# visit of 100 seats and compares the rate over the last 1,000 with the first 1,000.
#
# Needs: wrk (apt-get install wrk), and for PostgreSQL a server on 127.0.0.1:5432 that
# the `postgres` user reaches without a password (PG_ADMIN_URL, or
# RALLYPOINT_BENCH_POSTGRES_URL, to change it).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10}"
BACKENDS="${BACKENDS:-sqlite postgres}"
CONNECTIONS="${CONNECTIONS:-8 32 128}"
LOAD="${LOAD:-realistic}"
FLASH_REGISTRATIONS="${FLASH_REGISTRATIONS:-10000}"
PG_ADMIN_URL="${PG_ADMIN_URL:-${RALLYPOINT_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}}"
WORK="$(mktemp -d /tmp/rallypoint-bench.XXXXXX)"
BIN=target/release/rallypoint
SERVER_PID=""
WRK_PID=""
# The demo event's visits (config/events/), given room for every registration.
VISITS="aperam-chatelet biopark-charleroi district-cleantech-porte-ouest"

case "$LOAD" in
    realistic | friendly) export LOAD ;;
    *) echo "LOAD must be realistic or friendly, not $LOAD" >&2; exit 2 ;;
esac

cleanup() {
    [ -n "$WRK_PID" ] && kill "$WRK_PID" 2>/dev/null || true
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

# backend URL SQL -> the one number the query gives ("-" without a client for it)
query_number() {
    case "$1" in
        sqlite) if command -v sqlite3 >/dev/null; then sqlite3 "$2" "$3"; else echo -; fi ;;
        postgres) psql "$2" -tAc "$3" ;;
    esac
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
    api POST /api/v1/events "{\"slug\":\"$slug\",\"name\":\"Bench\",\"timezone\":\"Europe/Brussels\",\"starts_on\":\"2030-01-01\",\"ends_on\":\"2030-01-02\",\"max_preferences\":3}"
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

# The flash crowd: exactly FLASH_REGISTRATIONS registrations from 32 connections, then
# wrk is interrupted (its main thread sleeps for -d whatever happens). A server too slow
# to answer them all in 30 minutes shows fewer answered. wrk's output goes to
# $WORK/flash.out.
flash_crowd() { # URL of the registrations
    local done_dir="$WORK/flash-done"
    rm -rf "$done_dir" && mkdir "$done_dir"
    REGISTRATIONS="$FLASH_REGISTRATIONS" THREADS=2 DONE_DIR="$done_dir" \
        wrk -t2 -c32 -d1800s --timeout 30s --latency -s scripts/register.lua "$1" -- flash hot \
        >"$WORK/flash.out" &
    WRK_PID=$!
    while kill -0 "$WRK_PID" 2>/dev/null && [ "$(find "$done_dir" -name 'done-*' | wc -l)" -lt 2 ]; do
        sleep 0.05
    done
    kill -INT "$WRK_PID" 2>/dev/null || true
    wait "$WRK_PID" || true
    WRK_PID=""
}

# A number from the flash crowd's rates line: "flash rates: answered=… first1000=…/s …"
rate_field() {
    local value
    value=$(sed -n "s/.* $1=\([0-9.]*\).*/\1/p" "$WORK/flash.rates")
    echo "${value:--}"
}

RESULTS="$WORK/results"
: >"$RESULTS"
for backend in $BACKENDS; do
    # The baseline makes a fresh database per run and drops it after.
    for c in $CONNECTIONS; do
        out=$(RALLYPOINT_BENCH_POSTGRES_URL="$PG_ADMIN_URL" "$BASELINE" \
            --backend "$backend" --clients "$c" --seconds "$DURATION" --load "$LOAD")
        echo "$out" >&2
        line=$(grep '^baseline ' <<<"$out")
        rate=$(sed -n 's/.* = \([0-9]*\) registrations\/s.*/\1/p' <<<"$line")
        p99=$(sed -n 's/.* p99 \([0-9.]*\) ms.*/\1/p' <<<"$line")
        echo "baseline $backend $c $rate $p99" >>"$RESULTS"
    done

    name="rp_bench_$$_$backend"
    url=$(fresh_database "$backend" "$name")
    start_server "$url"
    echo "server $backend idle $(current_memory_mb)" >>"$RESULTS"
    echo "ready $backend $READY_MS" >>"$RESULTS"
    # shellcheck disable=SC2086 # the visit slugs are words
    create_event bench 1000000 $VISITS
    for c in $CONNECTIONS; do
        # shellcheck disable=SC2086
        out=$(wrk -t2 -c"$c" -d"${DURATION}s" --latency -s scripts/register.lua \
            "$BASE/api/v1/events/bench/registrations" -- "c$c" $VISITS)
        read -r rate p50 p99 non2xx <<<"$(parse_wrk <<<"$out")"
        echo "server $backend $c $rate $p50 $p99 $non2xx $(peak_memory_mb)" >>"$RESULTS"
        echo "server $backend c=$c load=$LOAD: $rate/s p50 ${p50} ms p99 ${p99} ms non-2xx $non2xx" >&2
    done

    # The flash crowd: everyone wants the same visit of 100 seats (in the database the
    # runs above filled).
    create_event flash 100 hot
    flash_crowd "$BASE/api/v1/events/flash/registrations"
    read -r _ _ p99 _ <<<"$(parse_wrk <"$WORK/flash.out")"
    grep '^flash rates:' "$WORK/flash.out" >"$WORK/flash.rates" || echo "flash rates: none (wrk did not finish)" >"$WORK/flash.rates"
    cat "$WORK/flash.rates" >&2
    event=$(curl -s "$BASE/api/v1/events/flash")
    assigned=$(sed -n 's/.*"assigned":\([0-9]*\).*/\1/p' <<<"$event")
    waitlisted=$(sed -n 's/.*"waitlisted":\([0-9]*\).*/\1/p' <<<"$event")
    seat_rows=$(query_number "$backend" "$url" "SELECT count(*) FROM seat_assignments s \
        JOIN site_visits v ON v.id = s.site_visit_id JOIN events e ON e.id = v.event_id WHERE e.slug = 'flash'")
    echo "flash $backend $(rate_field answered) $(rate_field non2xx) $p99 $(rate_field all) $(rate_field first1000) $(rate_field last1000) $(rate_field ratio) $assigned $waitlisted $seat_rows" >>"$RESULTS"
    echo "flash $backend: seats taken $assigned (seat rows $seat_rows), waitlisted $waitlisted" >&2
    stop_server
    drop_database "$backend" "$name"
done

# "met" or "not met": value op bound, op one of >= < ==
verdict() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
    if (a == "" || a == "-") { print "not measured"; exit }
    ok = (op == ">=") ? a + 0 >= b + 0 : (op == "<") ? a + 0 < b + 0 : a + 0 == b + 0
    print ok ? "met" : "not met" }'; }

echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); load generator (wrk -t2) on the same cores; ${DURATION} s per run; load: $LOAD."
echo
echo "| backend | connections | registrations/s | p50 ms | p99 ms | non-2xx | peak MB | baseline/s | baseline p99 ms | ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|"
while read -r kind backend c rate p50 p99 non2xx peak; do
    [ "$kind" = server ] && [ "$c" != idle ] || continue
    read -r ref ref_p99 <<<"$(awk -v b="$backend" -v c="$c" '$1=="baseline" && $2==b && $3==c {print $4, $5}' "$RESULTS")"
    ratio=$(awk -v a="$rate" -v b="${ref:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    echo "| $backend | $c | $rate | $p50 | $p99 | $non2xx | $peak | ${ref:--} | ${ref_p99:--} | ${ratio}× |"
done <"$RESULTS"
echo
awk '$1=="baseline" {printf "baseline %s, %s clients: %s registrations/s, p99 %s ms\n", $2, $3, $4, $5}' "$RESULTS"
awk '$1=="server" && $3=="idle" {printf "idle memory after start (%s): %s MB\n", $2, $4}' "$RESULTS"
awk '$1=="ready" {printf "start-up to ready (%s, migrated database, from launch to /readyz 200): %s ms\n", $2, $3}' "$RESULTS"
awk '$1=="flash" {printf "flash crowd (%s, 32 connections, one visit of 100): %s answered, non-2xx %s, p99 %s ms, %s registrations/s overall; first 1,000 %s/s, last 1,000 %s/s, last/first %s; seats taken %s (seat rows %s), waitlisted %s\n", $2, $3, $4, $5, $6, $7, $8, $9, $10, $12, $11}' "$RESULTS"

echo
echo "Targets (issue 15: realistic load, 32 connections; flash crowd of 10,000 at one visit of 100 seats):"
[ "$LOAD" = realistic ] || echo "  (this run used LOAD=$LOAD: the verdicts below are for comparison only)"
[ "$FLASH_REGISTRATIONS" = 10000 ] || echo "  (this run's flash crowd was $FLASH_REGISTRATIONS registrations, not 10,000)"
for backend in $BACKENDS; do
    read -r rate p99 <<<"$(awk -v b="$backend" '$1=="server" && $2==b && $3==32 {print $4, $6}' "$RESULTS")"
    if [ -z "$rate" ]; then
        echo "- $backend: no run at 32 connections (CONNECTIONS=\"$CONNECTIONS\")"
    elif [ "$backend" = sqlite ]; then
        ref=$(awk '$1=="baseline" && $2=="sqlite" && $3==32 {print $4}' "$RESULTS")
        ratio=$(awk -v a="$rate" -v b="${ref:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        echo "- sqlite: $rate/s = ${ratio}× the baseline's ${ref:--}/s in this run (≥ 1.0×: $(verdict "$ratio" '>=' 1.0)); p99 $p99 ms (< 10 ms: $(verdict "$p99" '<' 10))"
    else
        echo "- postgres: $rate/s (≥ 1,000/s: $(verdict "$rate" '>=' 1000)); p99 $p99 ms (< 50 ms: $(verdict "$p99" '<' 50))"
    fi
    read -r answered first last ratio assigned rows <<<"$(awk -v b="$backend" '$1=="flash" && $2==b {print $3, $7, $8, $9, $10, $12}' "$RESULTS")"
    [ -n "${answered:-}" ] || continue
    seats=$(verdict "$assigned" '==' 100)
    [ "$rows" = - ] || [ "$rows" = 100 ] || seats="not met"
    echo "- flash crowd, $backend: last 1,000 at ${last:--}/s = ${ratio:--}× the first 1,000 at ${first:--}/s (≥ 0.8×: $(verdict "$ratio" '>=' 0.8)); seats $assigned, seat rows $rows (exactly 100: $seats); $answered answered"
done
echo
echo "rerun: DURATION=$DURATION BACKENDS=\"$BACKENDS\" CONNECTIONS=\"$CONNECTIONS\" LOAD=$LOAD FLASH_REGISTRATIONS=$FLASH_REGISTRATIONS scripts/bench-registration.sh"
