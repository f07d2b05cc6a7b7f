#!/bin/sh
# Runs once inside the image build (rendered into the context by orchestrator/images.py): moves the
# orchestrator's files out of the app dir, trusts the host's extra CA certificates, installs the init,
# then installs dependencies and runs the build hook from /app, as the platform does.
set -e
mv /app/.orchestrator /opt/orchestrator
if ls /opt/orchestrator/ca/*.crt >/dev/null 2>&1 && [ -d /usr/local/share/ca-certificates ]; then
  cp /opt/orchestrator/ca/*.crt /usr/local/share/ca-certificates/
  update-ca-certificates >/dev/null 2>&1 || true
fi
install -m 0755 /opt/orchestrator/orchestrator-init /usr/local/bin/orchestrator-init
install -m 0755 /opt/orchestrator/sv /usr/local/bin/sv
install -m 0755 /opt/orchestrator/orchestrator-cron /usr/local/bin/orchestrator-cron
install -m 0755 /opt/orchestrator/orchestrator-php-fpm /usr/local/bin/orchestrator-php-fpm
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
if [ -f /opt/orchestrator/build-hook.sh ]; then
  echo "orchestrator: running the build hook"
  sh /opt/orchestrator/build-hook.sh   # like the platform: fails only when its last command fails, unless it sets -e
fi
