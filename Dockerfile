# tiltbob: one image for the web app and the listener (docker-compose.yml runs both).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .
RUN pip install . \
    && useradd --system --home-dir /app --shell /usr/sbin/nologin tiltbob
USER tiltbob

EXPOSE 8000
CMD ["tiltbob", "run", "--host", "0.0.0.0", "--port", "8000"]
