#!/bin/sh
# MariaDB stand-in: honours the official image's MARIADB_DATABASE / MARIADB_USER / MARIADB_PASSWORD, and
# ORCHESTRATOR_INIT_SQL (every schema and endpoint user of the service's config), applied at every start.
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
chmod 0600 /run/mysqld/init.sql && chown mysql:mysql /run/mysqld/init.sql
exec mariadbd --user=mysql --datadir=/var/lib/mysql --bind-address=0.0.0.0 --skip-name-resolve \
  --init-file=/run/mysqld/init.sql "$@"
