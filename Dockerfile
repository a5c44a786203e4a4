# The CME worker, and the `cme` command (the web app, the codec server, the set-up steps):
# `docker build -t cme-worker .` then run it with the CME_* settings (docker-compose.yml does both).
# Not built on the machines this was written on (no Docker engine).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 cme \
    && useradd --system --uid 10001 --gid cme --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin cme

WORKDIR /app
# The project (.dockerignore keeps out .env, .cme, .venv, tests): installed with its dependencies,
# and kept here for `python worker.py`.
COPY . .
# The web app's GOV.UK Frontend assets (govuk-frontend from the npm registry, at the version in
# web/frontend/package-lock.json), copied into web/static/govuk by the project's own set-up script
# before the install packages them. Node.js is needed for this step only, and removed after it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && bash -c 'set -euo pipefail; source scripts/_frontend.sh' \
    && rm -rf web/frontend/node_modules /root/.npm \
    && apt-get purge -y nodejs npm && apt-get autoremove -y --purge \
    && rm -rf /var/lib/apt/lists/*
RUN pip install . && rm -rf build ./*.egg-info
# Bytecode for /app, which `python worker.py` imports from: without it (PYTHONDONTWRITEBYTECODE, a
# directory the worker cannot write) every start compiles the sources. (The workflow sandbox
# executes each workflow module afresh for every run, from code the worker loads once.)
RUN python -m compileall -q /app

# Numeric, so that runtimes enforcing non-root (runAsNonRoot) can check it.
USER 10001:10001

# SIGTERM (docker stop) makes the worker stop polling and finish its running activities.
STOPSIGNAL SIGTERM
CMD ["python", "worker.py"]
