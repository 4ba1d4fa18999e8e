# One image for every process: `between web`, `between worker`, `between db upgrade`.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# pg_dump, for `between backup` against the compose PostgreSQL.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 between
WORKDIR /app

# The dependencies first, from the lock file (the same versions and files every build;
# `./dev lock` updates it), then the project itself without resolving anything again.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
# Every package pyproject.toml installs (tests/unit/test_packaging.py keeps this list true).
COPY app app
COPY bot bot
COPY billing billing
COPY coaching coaching
COPY scheduling scheduling
COPY practice practice
COPY safety safety
COPY prompts prompts
COPY core core
COPY dashboard dashboard
COPY sandbox sandbox
COPY migrations migrations
RUN pip install --no-deps . && mkdir -p /app/data && chown between /app/data

USER between
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"
CMD ["between", "web", "--host", "0.0.0.0", "--port", "8080"]
