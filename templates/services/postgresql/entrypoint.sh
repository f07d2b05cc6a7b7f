#!/bin/sh
# PostgreSQL stand-in: honours the official image's POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, and
# ORCHESTRATOR_INIT_SQL (every database and endpoint role of the service's config), applied at every start
# before it takes clients, so an endpoint added later (a replica's user, say) exists on the next deploy; at
# every start it creates ORCHESTRATOR_EXTENSIONS in each database where the packages provide them.
# With ORCHESTRATOR_PRIMARY_HOST it is a read-only replica instead (see replica below).
set -e
user="${POSTGRES_USER:-main}"; pass="${POSTGRES_PASSWORD:-main}"; db="${POSTGRES_DB:-main}"

# A replica: on first start a copy of the primary (pg_basebackup as the user of the primary's replication
# endpoint, WAL streamed alongside so the copy is consistent) that creates a replication slot named after
# the replica, so the primary keeps the WAL the replica has not received yet; then a hot standby that
# streams from that slot and refuses every write. The copy is made beside the data and moved in with
# PG_VERSION last, so an interrupted copy is made again rather than started.
replica() {
  export PGPASSWORD="$ORCHESTRATOR_PRIMARY_PASSWORD"
  host="$ORCHESTRATOR_PRIMARY_HOST"; port="$ORCHESTRATOR_PRIMARY_PORT"; ruser="$ORCHESTRATOR_PRIMARY_USER"
  slot="$ORCHESTRATOR_REPLICA_SLOT"
  if [ -s "$PGDATA/PG_VERSION" ] && [ ! -f "$PGDATA/standby.signal" ]; then
    echo "stand-in: $PGDATA holds a primary's data, not a replica's; remove the service's volume to make a replica" >&2
    exit 1
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    copy="$PGDATA/.copy"
    until pg_isready -q -h "$host" -p "$port"; do sleep 0.5; done
    while :; do
      rm -rf "$copy"
      # a slot of this name is left over from an earlier copy of this replica: drop it, or the copy fails
      pg_receivewal -h "$host" -p "$port" -U "$ruser" --drop-slot --slot="$slot" >/dev/null 2>&1 || true
      pg_basebackup -h "$host" -p "$port" -U "$ruser" -D "$copy" -X stream -C -S "$slot" --checkpoint=fast && break
      echo "stand-in: cannot copy the primary at $host:$port as $ruser yet; trying again" >&2
      sleep 2
    done
    touch "$copy/standby.signal"
    for entry in "$copy"/*; do
      [ "$entry" = "$copy/PG_VERSION" ] || mv "$entry" "$PGDATA/"
    done
    mv "$copy/PG_VERSION" "$PGDATA/" && rmdir "$copy"
  fi
  chmod 0700 "$PGDATA"
  unset PGPASSWORD
  exec postgres -D "$PGDATA" -c listen_addresses='*' -c hot_standby=on -c primary_slot_name="$slot" \
    -c primary_conninfo="host=$host port=$port user=$ruser password=$ORCHESTRATOR_PRIMARY_PASSWORD application_name=$slot" \
    "$@"
}
[ -z "${ORCHESTRATOR_PRIMARY_HOST:-}" ] || replica "$@"

fresh=""
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb -D "$PGDATA" -U postgres --auth-local=trust --auth-host=md5 -E UTF8 --locale=C.UTF-8 >/dev/null
  echo "host all all 0.0.0.0/0 md5" >>"$PGDATA/pg_hba.conf"
  fresh=1
fi
# replicas copy the server as the user of a replication endpoint (only a role with REPLICATION may)
grep -q "^host replication all 0.0.0.0/0 md5" "$PGDATA/pg_hba.conf" ||
  echo "host replication all 0.0.0.0/0 md5" >>"$PGDATA/pg_hba.conf"
if [ -n "$fresh" ] || [ -n "${ORCHESTRATOR_INIT_SQL:-}" ]; then
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
  if [ -n "${ORCHESTRATOR_INIT_SQL:-}" ]; then
    printf '%s\n' "$ORCHESTRATOR_INIT_SQL" | psql -v ON_ERROR_STOP=1 -U postgres -q -d postgres >/dev/null
  else
    psql -v ON_ERROR_STOP=1 -U postgres -q -c "CREATE ROLE \"$user\" LOGIN PASSWORD '$pass'" \
         -c "CREATE DATABASE \"$db\" OWNER \"$user\""
  fi
  pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
fi
if [ -n "${ORCHESTRATOR_EXTENSIONS:-}" ]; then
  (
    until pg_isready -q -h 127.0.0.1; do sleep 0.5; done
    for database in $(psql -U postgres -At -c "SELECT datname FROM pg_database WHERE datallowconn AND datname NOT IN ('postgres', 'template1')"); do
      for extension in $ORCHESTRATOR_EXTENSIONS; do
        psql -U postgres -q -d "$database" -c "CREATE EXTENSION IF NOT EXISTS \"$extension\"" >/dev/null 2>&1 ||
          echo "stand-in: extension $extension is not available in this PostgreSQL build" >&2
      done
    done
  ) &
fi
# a slot whose replica is gone keeps at most this much WAL, so a removed replica cannot fill the disk
exec postgres -D "$PGDATA" -c listen_addresses='*' -c max_slot_wal_keep_size=1GB "$@"
