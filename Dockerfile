# homemovies: `docker run IMAGE --bucket NAME --instance_principal` passes flags as the original did.
FROM node:20-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 homemovies
WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY --from=assets /build/node_modules/hls.js/package.json node_modules/hls.js/package.json
COPY --from=assets /build/node_modules/hls.js/dist/hls.min.mjs node_modules/hls.js/dist/hls.min.mjs
COPY .streamlit/config.toml .streamlit/config.toml
COPY streamlit_app.py ./
COPY lib/ lib/
COPY pages/ pages/
# The demo folder is writable: positions and share links are kept in it (.homemovies/).
COPY --chown=homemovies demo/ demo/
USER homemovies
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
ENTRYPOINT ["streamlit", "run", "streamlit_app.py", "--server.port=8501", "--server.address=0.0.0.0", "--"]
CMD ["--library", "demo"]
