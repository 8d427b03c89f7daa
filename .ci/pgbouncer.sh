#!/usr/bin/env bash
# A PgBouncer in transaction pooling mode in front of the local PostgreSQL, so
# tests/pgbouncer_test.ts runs Rillflow the way a pooled deployment does.
#
# Idempotent; run as root, after .ci/scram.sh (it logs in as that role). It
# installs the Debian package when pgbouncer is missing, writes its files under
# /tmp/rillflow-pgbouncer (config, auth file, log, pid), starts it as the
# postgres OS user (PgBouncer refuses to run as root) on 127.0.0.1:6432 unless
# one already answers there, waits until a login through it works, and proves
# the pool mode is "transaction". Progress goes to stderr; stdout is the URL to
# use and nothing else:
#
#   RILLFLOW_PGBOUNCER_URL="$(bash .ci/pgbouncer.sh)"
#
# Authentication is SCRAM end to end, as in production: the auth file holds the
# role's SCRAM secret copied from pg_authid (never the password), clients log
# in to PgBouncer with SCRAM, and PgBouncer logs in to the server with the
# client's SCRAM keys (SCRAM pass-through), through the server's scram rule.
set -euo pipefail

me="pgbouncer.sh"
# shellcheck source=_common.sh
. "$(dirname "$0")/_common.sh"
port="${RILLFLOW_PGBOUNCER_PORT:-6432}"
dir="/tmp/rillflow-pgbouncer"

if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  say "installing pgbouncer from the Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  # The package's service start fails without systemd, harmlessly: this script starts its own.
  apt-get install -y -qq pgbouncer >&2 || {
    apt-get update -qq >&2
    apt-get install -y -qq pgbouncer >&2
  }
fi
bin="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
say "$("$bin" --version | head -1)"

as_postgres() { # as the postgres OS user, from a directory it can read
  (
    cd /
    if command -v runuser >/dev/null 2>&1; then
      runuser -u postgres -- "$@"
    else
      su postgres -s /bin/sh -c '"$0" "$@"' "$@"
    fi
  )
}

try_login() { # prints current_user, or the error
  PGPASSWORD="$password" PGPASSFILE=/dev/null psql -X -w -At \
    "host=$host port=$port user=$role dbname=$database connect_timeout=3" \
    -c "select current_user" 2>&1
}

# The role's SCRAM secret: what the auth file must hold for SCRAM pass-through.
secret="$(as_postgres psql -X -q -At -p "$server_port" -d postgres -c \
  "select rolpassword from pg_authid where rolname = '$role'")"
case "$secret" in
  SCRAM-SHA-256\$*) ;;
  *) fail "role $role has no SCRAM-SHA-256 password: run .ci/scram.sh first" ;;
esac

mkdir -p "$dir"
chown postgres:postgres "$dir"
chmod 700 "$dir"
config="$(mktemp)"
trap 'rm -f "$config"' EXIT
cat >"$config" <<INI
;; Written by .ci/pgbouncer.sh: a test-only bouncer in transaction pooling mode.
[databases]
$database = host=$host port=$server_port dbname=$database

[pgbouncer]
listen_addr = $host
listen_port = $port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
admin_users = $role
pool_mode = transaction
; Fewer server connections than clients, so transactions of different clients
; really share server connections.
default_pool_size = 8
max_client_conn = 400
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
printf '"%s" "%s"\n' "$role" "$secret" >"$dir/userlist.txt.new"
chown postgres:postgres "$dir/userlist.txt.new"
chmod 600 "$dir/userlist.txt.new"
mv "$dir/userlist.txt.new" "$dir/userlist.txt"
changed=1
if cmp -s "$config" "$dir/pgbouncer.ini"; then changed=0; fi
install -o postgres -g postgres -m 600 "$config" "$dir/pgbouncer.ini"

alive() { # the pid file names a live process (a killed one may linger as a zombie)
  local pid state
  pid="$(cat "$dir/pgbouncer.pid" 2>/dev/null)" || return 1
  state="$(ps -o stat= -p "$pid" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}
running=0
if alive; then running=1; fi
if [ "$running" = 1 ] && [ "$changed" = 1 ]; then
  say "config changed: restarting pgbouncer"
  kill "$(cat "$dir/pgbouncer.pid")"
  for _ in $(seq 1 50); do
    alive || break
    sleep 0.1
  done
  running=0
fi
if [ "$running" = 0 ]; then
  rm -f "$dir/pgbouncer.pid"
  as_postgres "$bin" -d "$dir/pgbouncer.ini" >&2 ||
    fail "pgbouncer did not start: $(tail -5 "$dir/pgbouncer.log" 2>/dev/null)"
  say "started pgbouncer on $host:$port (pid $(cat "$dir/pgbouncer.pid"))"
else
  # The auth file may have changed (a new password): a reload rereads it.
  kill -HUP "$(cat "$dir/pgbouncer.pid")"
  say "pgbouncer already runs on $host:$port: reloaded"
fi

out=""
for _ in $(seq 1 50); do
  if out="$(try_login)"; then break; fi
  sleep 0.2
done
[ "$out" = "$role" ] || fail "no login through pgbouncer: $out"
mode="$(PGPASSWORD="$password" PGPASSFILE=/dev/null psql -X -w -At \
  "host=$host port=$port user=$role dbname=pgbouncer connect_timeout=3" \
  -c "show config" 2>&1 | awk -F'|' '$1 == "pool_mode" { print $2 }')"
[ "$mode" = "transaction" ] || fail "pgbouncer's pool_mode is \"$mode\", not transaction"
say "logged in through pgbouncer as $role (SCRAM), pool_mode = transaction"

echo "postgres://$role:$password@$host:$port/$database"
