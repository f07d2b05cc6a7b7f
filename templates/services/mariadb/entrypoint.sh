#!/bin/sh
# MariaDB stand-in: honours the official image's MARIADB_DATABASE / MARIADB_USER / MARIADB_PASSWORD, and
# ORCHESTRATOR_INIT_SQL (every schema and endpoint user of the service's config), applied at every start.
# ORCHESTRATOR_BINARY_LOG: a primary that replicas stream from keeps a binary log. With
# ORCHESTRATOR_PRIMARY_HOST it is a read-only replica instead (see replica below).
set -e
install -d -o mysql -g mysql /run/mysqld
chown mysql:mysql /var/lib/mysql
[ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
if [ -n "${ORCHESTRATOR_INIT_SQL:-}" ]; then
  printf '%s\n' "$ORCHESTRATOR_INIT_SQL" >/run/mysqld/init.sql
else
  db="${MARIADB_DATABASE:-main}"; user="${MARIADB_USER:-user}"; pass="${MARIADB_PASSWORD:-}"
  cat >/run/mysqld/init.sql <<SQL
CREATE DATABASE IF NOT EXISTS \`$db\`;
CREATE USER IF NOT EXISTS '$user'@'%' IDENTIFIED BY '$pass';
ALTER USER '$user'@'%' IDENTIFIED BY '$pass';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'%';
SQL
fi
server="mariadbd --user=mysql --datadir=/var/lib/mysql --skip-name-resolve"

# A replica: on first start, before it takes clients, a consistent copy of the schemas the primary's
# replication user may read (mariadb-dump in one transaction, with the primary's GTID position); at every
# start it points itself at the primary and streams the primary's binary log from that position, holding
# only those schemas, and refuses every write from the endpoints' users (read_only).
replica() {
  host="$ORCHESTRATOR_PRIMARY_HOST"; port="$ORCHESTRATOR_PRIMARY_PORT"
  ruser="$ORCHESTRATOR_PRIMARY_USER"; rpass="$ORCHESTRATOR_PRIMARY_PASSWORD"
  filters=""
  for schema in $ORCHESTRATOR_REPLICA_SCHEMAS; do filters="$filters --replicate-wild-do-table=$schema.%"; done
  options="--server-id=$ORCHESTRATOR_SERVER_ID --read-only --relay-log=relay-bin --skip-slave-start $filters"
  if [ ! -f /var/lib/mysql/orchestrator-replica-copied ]; then
    $server $options --skip-networking &
    until mariadb-admin ping --silent 2>/dev/null; do sleep 0.5; done
    until mariadb-dump -h "$host" -P "$port" -u "$ruser" -p"$rpass" --single-transaction --master-data=1 --gtid \
          --skip-triggers --databases $ORCHESTRATOR_REPLICA_SCHEMAS >/run/mysqld/copy.sql; do
      echo "stand-in: cannot copy the primary at $host:$port as $ruser yet; trying again" >&2
      sleep 2
    done
    mariadb </run/mysqld/copy.sql && rm -f /run/mysqld/copy.sql
    touch /var/lib/mysql/orchestrator-replica-copied
    mariadb-admin shutdown
    wait
  fi
  cat >>/run/mysqld/init.sql <<SQL
CHANGE MASTER TO MASTER_HOST='$host', MASTER_PORT=$port, MASTER_USER='$ruser', MASTER_PASSWORD='$rpass',
  MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=2;
START SLAVE;
SQL
  chmod 0600 /run/mysqld/init.sql && chown mysql:mysql /run/mysqld/init.sql
  exec $server $options --bind-address=0.0.0.0 --init-file=/run/mysqld/init.sql "$@"
}
[ -z "${ORCHESTRATOR_PRIMARY_HOST:-}" ] || replica "$@"

chmod 0600 /run/mysqld/init.sql && chown mysql:mysql /run/mysqld/init.sql
if [ -n "${ORCHESTRATOR_BINARY_LOG:-}" ]; then
  set -- --log-bin=binlog --server-id=1 --binlog-format=ROW --expire-logs-days=7 "$@"
fi
exec $server --bind-address=0.0.0.0 --init-file=/run/mysqld/init.sql "$@"
