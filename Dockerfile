# syntax=docker/dockerfile:1
# ProcessLens image: `processlens serve` on 0.0.0.0:8000, SQLite data in the /app/data volume
# (or PostgreSQL via DATABASE_URL). No Docker engine is available where this is developed, so
# `make test` lints this file with hadolint, and its install steps are kept identical to the
# Makefile's: the same requirements.lock (pinned, hashed), then the app itself without deps.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# the same lock file `make run` and `make test` install from (see Makefile)
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY templates ./templates
COPY questionnaires ./questionnaires
# editable, as in `make`: templates/, questionnaires/ and migrations/ are found beside app/
RUN pip install --no-cache-dir --no-deps -e .

FROM python:3.11-slim-bookworm
# WeasyPrint's libraries and fonts (it crashes with no font installed)
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
        fonts-dejavu-core fonts-liberation2 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 processlens \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home processlens
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /app /app
WORKDIR /app
RUN mkdir -p /app/data && chown 10001:10001 /app/data
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PROCESSLENS_ENVIRONMENT=production \
    PROCESSLENS_DATA_DIR=/app/data
USER 10001:10001
VOLUME ["/app/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
# --migrate: apply pending migrations before serving, under the migration lock, so several
# replicas starting together migrate once. Production needs PROCESSLENS_SECRET_KEY. Behind a
# reverse proxy set PROCESSLENS_TRUSTED_PROXIES to its address; X-Forwarded-For is ignored
# from anyone else.
CMD ["processlens", "serve", "--host", "0.0.0.0", "--port", "8000", "--migrate"]
