#!/bin/sh
# The app's build, run in a container of its system image (prepare.sh's) with the source in /app and the
# orchestrator's files in /app/.orchestrator (rendered by orchestrator/images.py), as the platform does:
# the build-time variables come from a file read here and deleted, so they exist during the build only;
# the build flavor's steps (npm, composer) and the build hook run from /app as the app's user, `web`, who
# may write /app, /tmp and the cache but not the system, so pip and its kin install into /app/.local.
# Tools keep their download caches in PLATFORM_CACHE_DIR, a volume kept from one build to the next.
# Only /app becomes the image's new layer: nothing written elsewhere outlives the build.
set -e
here=/tmp/orchestrator-build
rm -rf "$here" && mv /app/.orchestrator "$here"
if [ -f "$here/build-env" ]; then
  set -a
  . "$here/build-env"
  set +a
  rm -f "$here/build-env"
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
as_app=""
if id web >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1; then
  chown -R web: /app ${PLATFORM_CACHE_DIR:+"$PLATFORM_CACHE_DIR"}
  as_app="setpriv --reuid=web --regid=web --init-groups --"
fi
cd /app
if [ -f "$here/flavor.sh" ]; then
  echo "orchestrator: running the build flavor's steps"
  $as_app sh -e "$here/flavor.sh"
fi
if [ -f "$here/build-hook.sh" ]; then
  echo "orchestrator: running the build hook"
  # like the platform: fails only when its last command fails, unless it sets -e
  $as_app sh "$here/build-hook.sh"
fi
rm -rf "$here"
find /app ! -perm -a+r -exec chmod a+rX {} + 2>/dev/null || true  # readable by the user the app runs as
