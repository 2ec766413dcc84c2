# Amur: one image for the web service (gunicorn), the Celery worker and Celery beat.
#   docker build -t amur .
#   docker run -e AMUR_PRODUCTION=1 -e SECRET_KEY=... -e ALLOWED_HOSTS=... -e DATABASE_URL=... amur
# docker-compose.yml runs the whole stack.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=ecommerce.settings \
    AMUR_VAR_DIR=/app/var \
    PORT=8000

RUN groupadd --system --gid 10001 amur \
    && useradd --system --uid 10001 --gid amur --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin amur

WORKDIR /app
COPY . .

# The services run from this source tree (manage.py, gunicorn.conf.py and locale/ live here);
# `pip install .` brings the pinned dependencies from pyproject.toml.
RUN pip install . \
    && rm -rf build ./*.egg-info

# The static files are collected with the production storage (hashed names plus the
# staticfiles.json manifest), because that is the storage the containers run with: files
# collected without AMUR_PRODUCTION have no manifest, and the admin and /api/docs/ then fail
# with "Missing staticfiles manifest entry". Production settings insist on a long SECRET_KEY
# and on ALLOWED_HOSTS, so this one command gets a random throwaway key that is never stored.
RUN AMUR_PRODUCTION=1 DEBUG=0 ALLOWED_HOSTS=build.invalid \
        SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
        python manage.py collectstatic --noinput \
    && test -f "$AMUR_VAR_DIR/static/staticfiles.json" \
    && chown amur:amur "$AMUR_VAR_DIR"

USER 10001:10001

EXPOSE 8000

CMD ["gunicorn", "--config", "gunicorn.conf.py", "ecommerce.wsgi"]
