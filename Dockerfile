# journal-archive: the API (`archive-service serve`: gunicorn workers). Configure with ARCHIVE_* variables (see README).
# Fonts are vendored in the package (archive_service/render/fonts), so no system font packages.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ARCHIVE_DATA_DIR=/var/lib/journal-archive

WORKDIR /app
COPY pyproject.toml README.md ./
COPY archive_service ./archive_service
COPY schemas ./schemas
# Runtime dependencies only (no extras), as ./scripts/serve.sh installs them; the build fails if
# the installed package does not import.
RUN pip install --no-cache-dir . \
    && python -I -c 'import archive_service.cli, archive_service.factory, archive_service.serving' \
    && archive-service --help >/dev/null \
    && useradd --system --uid 10001 --home-dir /var/lib/journal-archive archive \
    && mkdir -p /var/lib/journal-archive \
    && chown archive /var/lib/journal-archive

USER archive
VOLUME ["/var/lib/journal-archive"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
# `serve` creates the schema (and, unconfigured, the test PKI) once, then starts the workers.
CMD ["archive-service", "serve", "--host", "0.0.0.0", "--port", "8080"]
