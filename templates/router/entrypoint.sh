#!/bin/sh
# The router's entrypoint: the machine's local CA (made once, in the volume every project's router shares),
# a certificate for this project's hosts signed by it, then nginx with the config the orchestrator made
# from routes.yaml (ORCHESTRATOR_ROUTER_CONF, base64). ORCHESTRATOR_TLS_NAMES: the hosts, space-separated.
set -eu
RUN=/run/router
CA=/ca
mkdir -p "$RUN"
log() { echo "orchestrator-router: $*" >&2; }

if [ ! -s "$CA/ca.crt" ]; then
  if mkdir "$CA/.lock" 2>/dev/null; then
    log "creating the local certificate authority (once per machine)"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
      -subj "/O=orchestrator/CN=orchestrator local development CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$CA/ca.key.new" -out "$CA/ca.crt.new" 2>/dev/null
    chmod 600 "$CA/ca.key.new"
    mv "$CA/ca.key.new" "$CA/ca.key" && mv "$CA/ca.crt.new" "$CA/ca.crt"
    rmdir "$CA/.lock"
  else
    waited=0
    while [ ! -s "$CA/ca.crt" ] && [ "$waited" -lt 300 ]; do sleep 0.1; waited=$((waited + 1)); done
  fi
fi

san=""
for name in ${ORCHESTRATOR_TLS_NAMES:-localhost}; do san="${san:+$san,}DNS:$name"; done
first=$(echo "${ORCHESTRATOR_TLS_NAMES:-localhost}" | cut -d' ' -f1)
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$san" >"$RUN/ext.cnf"
openssl req -newkey rsa:2048 -nodes -subj "/CN=$first" -keyout "$RUN/key.pem" -out "$RUN/req.csr" 2>/dev/null
openssl x509 -req -in "$RUN/req.csr" -CA "$CA/ca.crt" -CAkey "$CA/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
  -days 397 -sha256 -extfile "$RUN/ext.cnf" -out "$RUN/cert.pem" 2>/dev/null
cat "$RUN/cert.pem" "$CA/ca.crt" >"$RUN/chain.pem"

printf '%s' "${ORCHESTRATOR_ROUTER_CONF:?no router config}" | base64 -d >"$RUN/nginx.conf"
exec nginx -c "$RUN/nginx.conf" -g 'daemon off;'
