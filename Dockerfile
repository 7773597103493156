# homemovies: `docker run IMAGE --bucket NAME --instance_principal` passes flags as the original did.
# The bases are arguments so that a machine that cannot pull them builds from its own:
# scripts/image/build.sh passes the stand-ins scripts/image/bases.sh makes from Debian.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# The npm packages whose files the app serves (lib/assets.py); npm stays in this stage.
FROM ${NODE_IMAGE} AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# The Python packages, in a venv the final stage copies whole; pip stays in this stage.
FROM ${PYTHON_IMAGE} AS packages
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.txt /tmp/
# oci's SDK is 220 MB of source for some 180 services, each loaded only when first named:
# compile to bytecode ahead only what importing the services lib/storage/ uses loads, not the
# other 230 MB of it.
RUN python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install --no-compile -r /tmp/requirements.txt \
    && /opt/venv/bin/python -m compileall -q -j 0 -x /site-packages/oci/ /opt/venv \
    && /opt/venv/bin/python -c "import oci.object_storage, oci.secrets, oci.vault"

FROM ${PYTHON_IMAGE}
# ffmpeg and ffprobe: the app converts uploaded videos and indexes titles itself. Not pinned:
# bookworm's security updates are meant to come in, and a mirror keeps only the latest version.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 homemovies \
    && useradd --create-home --uid 10001 --gid 10001 homemovies
COPY --from=packages /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /app
# Exactly the npm files lib/assets.py serves, and the package.json naming each one's version.
COPY --from=assets /build/node_modules/hls.js/package.json node_modules/hls.js/
COPY --from=assets /build/node_modules/hls.js/dist/hls.min.mjs node_modules/hls.js/dist/
COPY --from=assets /build/node_modules/tus-js-client/package.json node_modules/tus-js-client/
COPY --from=assets /build/node_modules/tus-js-client/dist/tus.min.js node_modules/tus-js-client/dist/
COPY .streamlit/config.toml .streamlit/config.toml
COPY streamlit_app.py ./
COPY pages/ pages/
COPY lib/ lib/
RUN python -m compileall -q lib
# The demo folder is writable: positions and share links are kept in it (.homemovies/).
COPY --chown=10001:10001 demo/ demo/
# A number, so that a runtime can tell the user is not root without reading /etc/passwd.
USER 10001:10001
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
ENTRYPOINT ["streamlit", "run", "streamlit_app.py", "--server.port=8501", "--server.address=0.0.0.0", "--"]
CMD ["--library", "demo"]
