# facmon's image for docker-compose.yml: the `facmon` command (ingest, analyze, dashboards, simulate, ...).
FROM python:3.11-slim-bookworm

# Debian's mosquitto package brings mosquitto_passwd, which `facmon broker-config` hashes passwords with.
RUN apt-get update \
    && apt-get install -y --no-install-recommends mosquitto \
    && rm -rf /var/lib/apt/lists/*

# A normal install: the files facmon reads at run time (broker settings, sample county) are package data.
WORKDIR /opt/facmon
COPY pyproject.toml README.md ./
COPY facmon ./facmon
COPY sensors ./sensors
COPY ingest ./ingest
COPY analytics ./analytics
COPY dashboards ./dashboards
RUN pip install --no-cache-dir ".[grafana]" \
    && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin facmon \
    && install -d -o 1883 -g 1883 -m 0750 /var/lib/facmon/broker

USER facmon
CMD ["facmon", "--help"]
