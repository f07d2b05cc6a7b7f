#!/bin/sh
# RabbitMQ stand-in: honours the official image's RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS (first boot),
# and creates ORCHESTRATOR_VHOSTS (the service's `vhosts`) with full permissions for that user.
set -e
conf=/var/lib/rabbitmq/rabbitmq.conf
{
  echo "loopback_users = none"
  echo "default_user = ${RABBITMQ_DEFAULT_USER:-guest}"
  echo "default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}"
} >"$conf"
export RABBITMQ_CONFIG_FILE=/var/lib/rabbitmq/rabbitmq
if [ -n "${ORCHESTRATOR_VHOSTS:-}" ]; then
  (
    tries=0
    until rabbitmqctl -q await_startup >/dev/null 2>&1; do  # fails at once until the node is up
      tries=$((tries + 1)); [ "$tries" -lt 120 ] || exit 0; sleep 1
    done
    for vhost in $ORCHESTRATOR_VHOSTS; do
      rabbitmqctl -q add_vhost "$vhost" >/dev/null 2>&1 || true
      rabbitmqctl -q set_permissions -p "$vhost" "${RABBITMQ_DEFAULT_USER:-guest}" ".*" ".*" ".*" >/dev/null 2>&1 || true
    done
  ) &
fi
exec /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
