#!/usr/bin/env bash
# Runs schemathesis against a live rallypoint: the debug binary on a fresh SQLite
# database, rate limits off, an admin token for the protected operations. Every check
# (server errors, status codes, content types, headers and bodies against the document,
# negative data rejected, positive data accepted, auth really enforced) over the
# examples, coverage, fuzzing and stateful phases, with a bounded number of examples.
#
#   scripts/schemathesis.sh               # uses ${CARGO_TARGET_DIR:-target}
#   SCHEMATHESIS_MAX_EXAMPLES=200 scripts/schemathesis.sh
#
# schemathesis is installed from PyPI into ${CARGO_TARGET_DIR:-target}/schemathesis-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION="4.32.5"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-50}"
SEED="${SCHEMATHESIS_SEED:-8}"
target_dir="${CARGO_TARGET_DIR:-target}"
venv="$target_dir/schemathesis-venv"

# CPython before 3.11.8 / 3.12.2 can fail inside hypothesis with "SystemError: AST
# constructor recursion depth mismatch" (CPython gh-106905) when it parses a large
# module to describe a lambda — a crash of the tool, not a finding. Take a fixed Python
# when the machine has one (pyenv's included), the default python3 otherwise.
fixed_python() {
    "$1" -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 12, 2) or (3, 11, 8) <= v < (3, 12) else 1)' 2>/dev/null
}
python=python3
for candidate in python3.14 python3.13 python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 python3; do
    if fixed_python "$candidate"; then
        python="$candidate"
        break
    fi
done
fixed_python "$python" || echo "warning: $($python --version) may crash inside hypothesis (CPython gh-106905)" >&2

installed() { "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; }
# Install when missing, or again when a fixed Python is here and the venv's is not.
if ! installed || { ! fixed_python "$venv/bin/python" && fixed_python "$python"; }; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv with $($python --version)"
    rm -rf "$venv"
    if ! "$python" -m venv "$venv"; then
        echo "python3 cannot make a virtualenv (on Debian: apt-get install python3-venv)" >&2
        exit 1
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet --bin rallypoint
binary="$target_dir/debug/rallypoint"

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Rate limits off: schemathesis sends hundreds of public writes from one address.
cat >"$work/config.toml" <<EOF
[limits]
public_writes_per_minute = 0

[mail]
outbox_dir = "$work/outbox"
EOF
export RALLYPOINT_CONFIG="$work/config.toml"
# A fresh SQLite file by default; SCHEMATHESIS_DATABASE_URL may name an empty PostgreSQL database.
export RALLYPOINT_DATABASE_URL="${SCHEMATHESIS_DATABASE_URL:-$work/rallypoint.db}"
export RALLYPOINT_BIND="127.0.0.1:0"
export RALLYPOINT_LOG="${RALLYPOINT_LOG:-warn}"
export RALLYPOINT_WORKERS=2

"$binary" migrate
token="$("$binary" token create --role admin --name schemathesis | tail -n 1)"

"$binary" serve >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
base=""
for _ in $(seq 1 100); do
    base="$(sed -n 's/^listening on \(http:\/\/[^ ]*\)$/\1/p' "$work/server.out" | head -n 1)"
    [ -n "$base" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        cat "$work/server.err" >&2
        echo "the server did not start" >&2
        exit 1
    fi
    sleep 0.2
done
if [ -z "$base" ]; then
    echo "the server printed no address" >&2
    exit 1
fi
echo "rallypoint under test at $base"

# Two registrations in the demo event, so that the manage-link operations reach past 404
# (schemathesis cannot take the token out of the Location header by itself).
tokens="$(python3 - "$base" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
for n in (1, 2):
    body = {"first_name": "Schema", "last_name": f"Thesis{n}", "email": f"schemathesis{n}@example.org",
            "organisation": "CI", "country": "BE", "preferences": ["aperam-chatelet"], "consent": True}
    request = urllib.request.Request(f"{base}/api/v1/events/cmr-charleroi-2024/registrations",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        print(response.headers["Location"].rsplit("/", 1)[1])
PY
)"
config="$work/schemathesis.toml"
cp scripts/schemathesis.toml "$config"
{
    echo '"path.token" = { dictionary = "tokens", probability = 0.7 }'
    echo
    echo '[dictionaries.tokens]'
    printf 'values = ['
    printf '"%s", ' $tokens
    echo ']'
} >>"$config"

report_dir="$target_dir/schemathesis-report"
status=0
"$venv/bin/schemathesis" --config-file "$config" run "$base/api/v1/openapi.json" \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --header "Authorization: Bearer $token" \
    --request-timeout 30 \
    --workers 2 \
    --report junit --report-dir "$report_dir" \
    --output-truncate false \
    || status=$?

if grep -q "panicked" "$work/server.err"; then
    echo "the server panicked:" >&2
    grep -A5 "panicked" "$work/server.err" >&2
    status=1
fi
if [ "$status" != 0 ]; then
    echo "--- server log (last 50 lines)" >&2
    tail -n 50 "$work/server.err" >&2
fi
exit "$status"
