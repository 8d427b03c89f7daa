#!/usr/bin/env bash
# A second PostgreSQL cluster that fault tests may restart without touching the
# main one: `15 rillflow_faults` on port 5439, trust auth on loopback (a local,
# test-only cluster). Idempotent; run as root. Prints the URL to use.
set -euo pipefail
version="$(ls /etc/postgresql | sort -V | tail -1)"
name="rillflow_faults"
port="${RILLFLOW_FAULT_PORT:-5439}"
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version $name"; then
  pg_createcluster "$version" "$name" --port "$port" -- --auth-host=trust --auth-local=trust >&2
fi
conf="/etc/postgresql/$version/$name/postgresql.conf"
# Fast restarts: no fsync wait at shutdown matters here, and a small footprint.
grep -q "^# rillflow faults" "$conf" || cat >> "$conf" <<CONF
# rillflow faults
shared_buffers = 32MB
max_connections = 60
CONF
pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start >&2 2>/dev/null || true
for _ in $(seq 1 30); do
  pg_isready -h 127.0.0.1 -p "$port" -q && break
  sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$port" -q
su postgres -c "psql -p $port -Atqc \"select 1 from pg_database where datname = 'faults'\"" | grep -q 1 ||
  su postgres -c "createdb -p $port faults" >&2
echo "postgres://postgres@127.0.0.1:$port/faults"
