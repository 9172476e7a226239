# One image for the api, the worker, the bot and the web chat (docker-compose.yml picks the command).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot bot
COPY governor governor
COPY ops ops
COPY referral_api referral_api
COPY simulator simulator
COPY webchat webchat
COPY flows flows
COPY locales locales
COPY alembic.ini babel.cfg babel-staff.cfg ./
RUN pip install -e . && pybabel compile -d locales -D messages \
    && pybabel compile -d locales -D staff \
    && useradd --system --uid 10001 conex
USER conex
