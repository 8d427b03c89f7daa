# Shared by .ci/scram.sh and .ci/pgbouncer.sh (sourced; set `me` first): the
# test role, messages on stderr, and the main cluster's version and port.
role="rillflow_scram"
# A local CI role on loopback: the password is public on purpose.
password="rillflow-ci-only-not-a-secret"
database="test"
host="127.0.0.1"

say() { echo "$me: $*" >&2; }
fail() {
  say "FAILED: $*"
  exit 1
}

version="$(ls /etc/postgresql | head -1)" # the cluster .ci/run starts
[ -n "$version" ] || fail "no cluster under /etc/postgresql"
server_port="$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { print $3 }')"
server_port="${server_port:-5432}"
