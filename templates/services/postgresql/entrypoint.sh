#!/bin/sh
# PostgreSQL stand-in: honours the official image's POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, and on
# first start ORCHESTRATOR_INIT_SQL (every database and endpoint role of the service's config); at every
# start it creates ORCHESTRATOR_EXTENSIONS in each database where the packages provide them.
set -e
user="${POSTGRES_USER:-main}"; pass="${POSTGRES_PASSWORD:-main}"; db="${POSTGRES_DB:-main}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb -D "$PGDATA" -U postgres --auth-local=trust --auth-host=md5 -E UTF8 --locale=C.UTF-8 >/dev/null
  echo "host all all 0.0.0.0/0 md5" >>"$PGDATA/pg_hba.conf"
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
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
