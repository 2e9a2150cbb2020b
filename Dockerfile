# One image for every tongban process; the command picks which (infra/processes.py):
#   docker run IMAGE marriage | assistance | care | charity | funeral | gateway | progress | partner-feed
#   docker run IMAGE migrate <database>      docker run IMAGE topology
# Validated offline by tests/unit/test_deployment.py (no Docker engine on the build machines).

# the console's browser code (htmx, ECharts) from npm, by its lock file; the test tools (axe-core,
# a dev dependency) stay out of the image
FROM node:22.12.0-bookworm-slim AS console-assets
WORKDIR /console
COPY gateway/console/package.json gateway/console/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PYTHONWARNINGS="ignore:Eventlet is deprecated" \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# dependencies first: a code change does not reinstall them
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY chassis/ chassis/
COPY contracts/ contracts/
COPY services/ services/
COPY gateway/ gateway/
COPY --from=console-assets /console/node_modules gateway/console/node_modules
COPY infra/__init__.py infra/processes.py infra/
COPY infra/config/ infra/config/

# a fixed non-root uid, so Kubernetes' runAsNonRoot can check it; bank files are its only writes
RUN useradd --system --uid 10001 --no-create-home --home-dir /app tongban \
    && mkdir -p /app/var/bank-files \
    && chown -R 10001:10001 /app/var
USER 10001

EXPOSE 8000 8101 8102 8103 8104 8105

ENTRYPOINT ["python", "-m", "infra.processes"]
CMD ["--list"]
