#!/usr/bin/env bash
# Gives CI a password login on the local PostgreSQL, so the tests run the
# connection path production runs (SCRAM-SHA-256), not trust auth.
#
# Idempotent; run as root. It creates (or updates) the superuser role
# rillflow_scram with a fixed, test-only password, puts a pg_hba.conf rule for
# that role only above every other rule (pg_hba is first-match), reloads the
# server, and proves the result: without the password the login is refused,
# with a wrong one it is refused, with the right one it succeeds. Progress goes
# to stderr; stdout is the URL to use and nothing else:
#
#   RILLFLOW_TEST_DATABASE_URL="$(bash .ci/scram.sh)"
set -euo pipefail

me="scram.sh"
# shellcheck source=_common.sh
. "$(dirname "$0")/_common.sh"
marker="# rillflow CI: SCRAM login for the test role (kept above the other rules by .ci/scram.sh)"
port="$server_port"
hba="/etc/postgresql/$version/main/pg_hba.conf"
[ -f "$hba" ] || fail "$hba not found"

# As the postgres OS user over the local socket: works with trust and with
# Debian's default peer rule alike.
as_postgres() {
  (
    cd / # the postgres user may not be able to read the current directory
    if command -v runuser >/dev/null 2>&1; then
      runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$port" "$@"
    else
      su postgres -s /bin/sh -c 'psql -X -q -v ON_ERROR_STOP=1 -p "$0" "$@"' "$port" "$@"
    fi
  )
}

# 1. The role and the database.
as_postgres -d postgres >/dev/null <<SQL
select format('create role %I', '$role')
 where not exists (select from pg_roles where rolname = '$role') \gexec
set password_encryption = 'scram-sha-256';
alter role $role with login superuser password '$password';
select format('create database %I', '$database')
 where not exists (select from pg_database where datname = '$database') \gexec
SQL
stored="$(as_postgres -d postgres -At -c \
  "select left(rolpassword, 14) from pg_authid where rolname = '$role'")"
[ "$stored" = 'SCRAM-SHA-256$' ] || fail "the password of $role is not stored as SCRAM-SHA-256"
say "role $role has a SCRAM-SHA-256 password"

# 2. The pg_hba.conf rules, first in the file. Rewritten only when they are
# missing or not first, so a second run leaves the file untouched.
rules="$marker
host    all    $role    127.0.0.1/32    scram-sha-256
host    all    $role    ::1/128         scram-sha-256"
wanted="$(mktemp)"
trap 'rm -f "$wanted"' EXIT
RULES="$rules" awk -v marker="$marker" -v role="$role" '
  $0 == marker { next }
  NF == 5 && $1 == "host" && $2 == "all" && $3 == role && $5 == "scram-sha-256" &&
    ($4 == "127.0.0.1/32" || $4 == "::1/128") { next }
  !done && $0 !~ /^[[:space:]]*(#|$)/ { print ENVIRON["RULES"]; done = 1 }
  { print }
  END { if (!done) print ENVIRON["RULES"] }
' "$hba" >"$wanted"
if cmp -s "$wanted" "$hba"; then
  say "$hba already has the $role rules first"
else
  cat "$wanted" >"$hba" # keeps the file's owner and mode
  say "$hba: $role rules inserted above the other rules"
fi

# 3. Reload, and check the server read the rules without error.
as_postgres -d postgres -At -c "select pg_reload_conf()" >/dev/null
hba_errors="$(as_postgres -d postgres -At -c \
  "select count(*) from pg_hba_file_rules where error is not null")"
[ "$hba_errors" = "0" ] || fail "the server reports $hba_errors error(s) in $hba"
first_rule="$(as_postgres -d postgres -At -c \
  "select user_name::text || ' ' || auth_method from pg_hba_file_rules order by line_number limit 1")"
[ "$first_rule" = "{$role} scram-sha-256" ] || fail "the server's first rule is \"$first_rule\""

# 4. Prove it. The reload is a signal, so allow the server a moment to apply it.
try_login() { # try_login [PASSWORD]; prints current_user or the error
  local with_password=(env -u PGPASSWORD)
  [ $# -eq 0 ] || with_password=(env PGPASSWORD="$1")
  "${with_password[@]}" PGPASSFILE=/dev/null psql -X -w -At \
    "host=$host port=$port user=$role dbname=$database connect_timeout=5" \
    -c "select current_user" 2>&1
}
refused=""
for _ in $(seq 1 20); do
  if ! out="$(try_login)"; then
    refused="$out"
    break
  fi
  sleep 0.25
done
case "$refused" in
  *password*) say "without a password: refused ($(echo "$refused" | tail -1))" ;;
  "") fail "$role logs in without a password: the trust rules still come first" ;;
  *) fail "without a password the login failed for another reason: $refused" ;;
esac
if out="$(try_login "wrong-$password")"; then
  fail "$role logs in with a wrong password"
fi
case "$out" in
  *"password authentication failed"*) say "with a wrong password: refused" ;;
  *) fail "with a wrong password the login failed for another reason: $out" ;;
esac
out="$(try_login "$password")" || fail "with the password the login failed: $out"
[ "$out" = "$role" ] || fail "with the password psql answered: $out"
say "with the password: logged in as $role"

echo "postgres://$role:$password@$host:$port/$database"
