# Rendered by orchestrator/images.py for one app; the dollar-brace fields are filled in there.
# Few instructions on purpose: every one is a layer commit, and commits are slow on some storage drivers.
FROM ${base_image}
ENV ${env}
COPY . /app/
RUN ["/bin/sh", "/app/.orchestrator/build.sh"]
LABEL ${labels}
