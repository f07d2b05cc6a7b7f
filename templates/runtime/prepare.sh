#!/bin/sh
# The system part of an app's image, run once per base image and system dependencies (rendered with the
# files beside it by orchestrator/images.py), as root: trust the host's extra CA certificates, install the
# init and its helpers, the unprivileged user `web` the app runs as, nginx where the image has none, the
# app's PHP extensions and global `dependencies`. What comes from the app's source is build.sh's part.
set -e
here=$(cd "$(dirname "$0")" && pwd)
export HOME=/root  # tools run here keep their state out of /app, which is the app's layer
if ls "$here"/ca/*.crt >/dev/null 2>&1 && [ -d /usr/local/share/ca-certificates ]; then
  cp "$here"/ca/*.crt /usr/local/share/ca-certificates/
  update-ca-certificates >/dev/null 2>&1 || true
fi
for tool in orchestrator-init sv orchestrator-cron orchestrator-php-fpm orchestrator-env; do
  install -m 0755 "$here/$tool" "/usr/local/bin/$tool"
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
if [ -f "$here/system-dependencies.sh" ]; then
  echo "orchestrator: installing the app's global dependencies"
  sh -e "$here/system-dependencies.sh"
fi
mkdir -p /app
find /tmp -mindepth 1 -maxdepth 1 ! -path "${PLATFORM_CACHE_DIR:-/tmp/cache}" -exec rm -rf {} + 2>/dev/null || true
