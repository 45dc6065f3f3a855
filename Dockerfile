# crm-metrics: the HTTP API (`crm-metrics serve`) on port 3007, as a non-root user.
#
#   docker build -t crm-metrics .                  # or: podman build -t crm-metrics .
#   docker run -p 3007:3007 -e DATABASE_URL=postgresql://... crm-metrics
#
# BASE_IMAGE is any Debian-like image with Python 3.11+ as `python` (default: the official
# slim image, pinned by tag; pin it by digest in production). deploy/local-base.sh makes one
# from Debian's packages where no registry is reachable (docs/deploy.md).
ARG BASE_IMAGE=python:3.12-slim-bookworm

# -- build: the project's wheel, then a virtualenv with it and its extras -----------------------
FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY crm_metrics ./crm_metrics
COPY server ./server
COPY sql ./sql
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip wheel --no-deps --wheel-dir /dist . \
    && wheel="$(ls /dist/crm_metrics-*.whl)" \
    && /opt/venv/bin/pip install "${wheel}[server,postgres,redis,bigquery]" \
    && /opt/venv/bin/crm-metrics --version

# -- runtime: the virtualenv alone, run by an unprivileged user ---------------------------------
FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=3007
COPY --from=build /opt/venv /opt/venv
# A fixed uid/gid, so volumes and Kubernetes' runAsUser can name it.
RUN groupadd --system --gid 10001 crm \
    && useradd --system --uid 10001 --gid crm --home-dir /data --create-home --shell /usr/sbin/nologin crm
WORKDIR /data
USER 10001:10001
EXPOSE 3007
# The standard library's HTTP client: the slim base has neither curl nor wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '3007')}/health\", timeout=4)"]
# Exec form: `crm-metrics` is PID 1 and gets SIGTERM itself (it finishes in-flight requests,
# up to SHUTDOWN_TIMEOUT_SECONDS, then closes the database).
ENTRYPOINT ["crm-metrics"]
CMD ["serve"]
