# A local stand-in for a runtime's official image, built FROM the Debian base image
# (see orchestrator/images.py); used only when that image cannot be pulled and no image map names one.
FROM ${base_image}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages} \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
${extra}
