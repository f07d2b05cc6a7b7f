#!/bin/sh
# Runs once in the build container (rendered into /app/.orchestrator by orchestrator/images.py), as root:
# moves the orchestrator's files out of the app dir, trusts the host's extra CA certificates, installs the
# init and its helpers and the `web` user the app runs as, installs dependencies, then runs the build hook
# from /app as that user, as the platform does. The build-time variables live in a file read here and deleted, so
# they exist during the build only; tools keep their download caches in PLATFORM_CACHE_DIR (a volume
# kept from one build to the next), so a rebuild after an edit does not download everything again.
set -e
mv /app/.orchestrator /opt/orchestrator
if [ -f /opt/orchestrator/build-env ]; then
  set -a
  . /opt/orchestrator/build-env
  set +a
  rm -f /opt/orchestrator/build-env
fi
export HOME=/app
if [ -n "${PLATFORM_CACHE_DIR:-}" ]; then
  mkdir -p "$PLATFORM_CACHE_DIR"
  export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$PLATFORM_CACHE_DIR/pip}" \
         PIPENV_CACHE_DIR="${PIPENV_CACHE_DIR:-$PLATFORM_CACHE_DIR/pipenv}" \
         POETRY_CACHE_DIR="${POETRY_CACHE_DIR:-$PLATFORM_CACHE_DIR/poetry}" \
         npm_config_cache="${npm_config_cache:-$PLATFORM_CACHE_DIR/npm}" \
         YARN_CACHE_FOLDER="${YARN_CACHE_FOLDER:-$PLATFORM_CACHE_DIR/yarn}" \
         COMPOSER_CACHE_DIR="${COMPOSER_CACHE_DIR:-$PLATFORM_CACHE_DIR/composer}"
fi
if ls /opt/orchestrator/ca/*.crt >/dev/null 2>&1 && [ -d /usr/local/share/ca-certificates ]; then
  cp /opt/orchestrator/ca/*.crt /usr/local/share/ca-certificates/
  update-ca-certificates >/dev/null 2>&1 || true
fi
for tool in orchestrator-init sv orchestrator-cron orchestrator-php-fpm orchestrator-env; do
  install -m 0755 "/opt/orchestrator/$tool" "/usr/local/bin/$tool"
done
# the unprivileged user every instance runs as (as on the platform); its home is the app dir
if ! id web >/dev/null 2>&1; then
  useradd --system --user-group --uid 10000 --home-dir /app --no-create-home --shell /bin/bash web 2>/dev/null \
    || adduser -S -u 10000 -h /app -s /bin/sh web 2>/dev/null || echo "orchestrator: could not create the user web"
fi
# every web instance runs nginx in front of the app: an image without it (an official one) gets Debian's
if ! command -v nginx >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "orchestrator: installing nginx (the web server in front of the app)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light \
     || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx) >/dev/null \
     && rm -rf /var/lib/apt/lists/* || echo "orchestrator: could not install nginx; web instances serve nothing on port 80"
fi
cd /app
if [ -f /opt/orchestrator/dependencies.sh ]; then
  echo "orchestrator: installing dependencies"
  sh -e /opt/orchestrator/dependencies.sh
fi
# The build hook runs as the app's user, as on the platform: it may write /app, /tmp and the cache, not the
# system, so pip (and its kin) install into that user's site under /app/.local, where the app finds them.
as_app=""
if id web >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1; then
  chown -R web: /app ${PLATFORM_CACHE_DIR:+"$PLATFORM_CACHE_DIR"}
  as_app="setpriv --reuid=web --regid=web --init-groups --"
fi
if [ -f /opt/orchestrator/build-hook.sh ]; then
  echo "orchestrator: running the build hook"
  # like the platform: fails only when its last command fails, unless it sets -e
  $as_app sh /opt/orchestrator/build-hook.sh
fi
# what the build left in /tmp is not part of the image (the cache is a volume, not in the image either);
# the app's files must be readable by the user it runs as
find /tmp -mindepth 1 -maxdepth 1 ! -path "${PLATFORM_CACHE_DIR:-/tmp/cache}" -exec rm -rf {} + 2>/dev/null || true
find /app ! -perm -a+r -exec chmod a+rX {} + 2>/dev/null || true
