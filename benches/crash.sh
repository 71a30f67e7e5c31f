#!/usr/bin/env bash
# The fault campaign: `kill -9` at random moments of capture and of restore,
# on SQLite, PostgreSQL and MariaDB, on data where each run takes a while.
# After every kill:
#   capture: the final vault name holds an intact vault (`vault check
#            --read-data` passes) or nothing;
#   restore: the preserved table is exactly as before the restore or exactly
#            as fully restored, never in between; a repeated restore then
#            completes.
# Usage: benches/crash.sh [--kills N] [--engines sqlite,postgres,mariadb] [--debug]
#   (default 50 kills per engine and per command, on the release binary;
#   .ci/run runs 5 on the debug binary the tests built, with CRASH_ROWS=20000).
# Needs: the release binary (built here), python3, psql, mariadb.
set -euo pipefail
cd "$(dirname "$0")/.."

kills=50
engines="sqlite,postgres,mariadb"
profile=release
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills="$2"; shift 2 ;;
    --engines) engines="$2"; shift 2 ;;
    --debug) profile=debug; shift ;;
    *) echo "crash: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ "$profile" = release ]; then cargo build --release --locked -q; else cargo build --locked -q; fi
vault="$PWD/target/$profile/vault"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$vault" keygen --out "$work/key" >/dev/null
export VAULT_KEY_FILE="$work/key"
pg_base="${VAULT_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_server="${pg_base%/*}"
rows="${CRASH_ROWS:-300000}"
failures=0

# A random pause of 0 to $1 milliseconds.
pause() { python3 -c "import random, time; time.sleep(random.uniform(0, $1) / 1000)"; }

fail() { echo "crash: FAIL $*"; failures=$((failures + 1)); }

# --- per engine: set up, state checksum, reset to the refreshed state -------
setup_sqlite() {
  url="sqlite:$work/acc.db"
  python3 - "$work/acc.db" "$rows" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("DROP TABLE IF EXISTS account; CREATE TABLE account (id INTEGER PRIMARY KEY, login TEXT NOT NULL, secret BLOB);")
db.executemany("INSERT INTO account VALUES (?, ?, randomblob(200))", ((i, f"acc{i}") for i in range(1, int(sys.argv[2]) + 1)))
db.commit()
EOF
}
checksum_sqlite() {
  python3 - "$work/acc.db" <<'EOF'
import hashlib, sqlite3, sys
h = hashlib.sha256()
for row in sqlite3.connect(sys.argv[1]).execute("SELECT id, login, hex(secret) FROM account ORDER BY id"):
    h.update(repr(row).encode())
print(h.hexdigest())
EOF
}
refresh_sqlite() { cp "$work/refreshed.db" "$work/acc.db"; }
save_refreshed_sqlite() {
  python3 -c "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute(\"UPDATE account SET login = 'prod' || id WHERE id % 2 = 0\"); db.execute('DELETE FROM account WHERE id % 7 = 0'); db.commit()" "$work/acc.db"
  cp "$work/acc.db" "$work/refreshed.db"
}

setup_postgres() {
  url="$pg_server/vault_crash_acc"
  psql -q -X -d "$pg_base" -c "DROP DATABASE IF EXISTS vault_crash_acc WITH (FORCE)" -c "DROP DATABASE IF EXISTS vault_crash_refreshed WITH (FORCE)" -c "CREATE DATABASE vault_crash_acc"
  psql -q -X -d "$url" -c "CREATE TABLE account (id int PRIMARY KEY, login text NOT NULL, secret bytea);
    INSERT INTO account SELECT g, 'acc' || g, decode(repeat(md5(g::text), 12), 'hex') FROM generate_series(1, $rows) g"
}
checksum_postgres() {
  psql -q -X -At -d "$url" -c "SELECT md5(string_agg(id || ':' || login || ':' || encode(secret, 'hex'), ',' ORDER BY id)) FROM account"
}
save_refreshed_postgres() {
  psql -q -X -d "$url" -c "UPDATE account SET login = 'prod' || id WHERE id % 2 = 0; DELETE FROM account WHERE id % 7 = 0"
  psql -q -X -d "$pg_base" -c "CREATE DATABASE vault_crash_refreshed TEMPLATE vault_crash_acc"
}
refresh_postgres() {
  psql -q -X -d "$pg_base" -c "DROP DATABASE vault_crash_acc WITH (FORCE)" -c "CREATE DATABASE vault_crash_acc TEMPLATE vault_crash_refreshed"
}

maria() { mariadb -h 127.0.0.1 -P 3306 -u root -N "$@"; }
setup_mariadb() {
  url="mysql://root@127.0.0.1:3306/vault_crash_acc"
  maria -e "DROP DATABASE IF EXISTS vault_crash_acc; DROP DATABASE IF EXISTS vault_crash_refreshed; CREATE DATABASE vault_crash_acc; CREATE DATABASE vault_crash_refreshed;"
  maria vault_crash_acc -e "CREATE TABLE account (id int PRIMARY KEY, login varchar(40) NOT NULL, secret varbinary(200));
    INSERT INTO account WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $rows) SELECT x, CONCAT('acc', x), UNHEX(REPEAT(MD5(x), 6)) FROM n;" \
    --cte-max-recursion-depth=100000000 2>/dev/null || maria vault_crash_acc -e "SET SESSION max_recursive_iterations = 100000000;
    CREATE TABLE IF NOT EXISTS account (id int PRIMARY KEY, login varchar(40) NOT NULL, secret varbinary(200));
    INSERT INTO account WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $rows) SELECT x, CONCAT('acc', x), UNHEX(REPEAT(MD5(x), 6)) FROM n;"
}
checksum_mariadb() {
  maria vault_crash_acc -e "SELECT MD5(GROUP_CONCAT(CONCAT(id, ':', login, ':', HEX(secret)) ORDER BY id SEPARATOR ',')) FROM account" --group-concat-max-len=1073741824 2>/dev/null \
    || maria vault_crash_acc -e "SET SESSION group_concat_max_len = 1073741824; SELECT MD5(GROUP_CONCAT(CONCAT(id, ':', login, ':', HEX(secret)) ORDER BY id SEPARATOR ',')) FROM account"
}
save_refreshed_mariadb() {
  maria vault_crash_acc -e "UPDATE account SET login = CONCAT('prod', id) WHERE id % 2 = 0; DELETE FROM account WHERE id % 7 = 0;
    CREATE TABLE vault_crash_refreshed.account AS SELECT * FROM account;"
}
refresh_mariadb() {
  maria vault_crash_acc -e "DELETE FROM account; INSERT INTO account SELECT * FROM vault_crash_refreshed.account;"
}

# --- the campaign ----------------------------------------------------------
for engine in ${engines//,/ }; do
  echo "crash: $engine, $kills kills of capture and $kills of restore"
  "setup_$engine"
  config="$work/$engine.toml"
  printf '[acceptance]\nurl_env = "CRASH_URL"\n\n[[preserve]]\ntable = "account"\n' > "$config"
  export CRASH_URL="$url"
  vault_file="$work/$engine.vault"
  start=$(date +%s%N)
  "$vault" capture --config "$config" --out "$vault_file" >/dev/null
  capture_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  captured=$("checksum_$engine")
  "save_refreshed_$engine"
  refreshed=$("checksum_$engine")

  for i in $(seq 1 "$kills"); do
    out="$work/$engine-$i.vault"
    "$vault" capture --config "$config" --out "$out" >/dev/null 2>&1 &
    pid=$!
    pause "$capture_ms"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ -e "$out" ] && ! "$vault" check --read-data "$out" >/dev/null 2>&1; then
      fail "$engine capture kill $i: $out exists and is not intact"
    fi
    rm -f "$out" "$work"/.*.partial
  done

  "refresh_$engine"
  start=$(date +%s%N)
  "$vault" restore "$vault_file" --config "$config" --steps restore --report-dir "$work/report-ref-$engine" >/dev/null
  restore_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ "$("checksum_$engine")" = "$captured" ] || fail "$engine: a full restore does not give the captured rows"
  for i in $(seq 1 "$kills"); do
    "refresh_$engine"
    "$vault" restore "$vault_file" --config "$config" --steps restore --report-dir "$work/report-$engine-$i" >/dev/null 2>&1 &
    pid=$!
    pause "$restore_ms"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    sleep 0.2 # the server ends the killed session's transaction
    state=$("checksum_$engine")
    if [ "$state" != "$refreshed" ] && [ "$state" != "$captured" ]; then
      fail "$engine restore kill $i: the table is neither as before nor fully restored"
    fi
    if ! "$vault" restore "$vault_file" --config "$config" --steps restore --report-dir "$work/report-$engine-$i-again" >/dev/null 2>&1; then
      fail "$engine restore kill $i: the repeated restore did not complete"
    elif [ "$("checksum_$engine")" != "$captured" ]; then
      fail "$engine restore kill $i: the repeated restore did not give the captured rows"
    fi
  done
  echo "crash: $engine done (capture ${capture_ms} ms, restore ${restore_ms} ms per run)"
done

if [ "$failures" -gt 0 ]; then
  echo "crash: $failures failures"
  exit 1
fi
echo "crash: every kill left an intact vault or none, and a table as before or fully restored"
