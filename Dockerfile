# One image for the gateway (default), the worker and the adapters (override the command).
FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 gateway
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN if [ -x scripts/install_assets.sh ]; then scripts/install_assets.sh; fi && chown -R gateway /app
USER gateway
ENV GATEWAY_ENV=production HOST=0.0.0.0 PORT=5000 PYTHONUNBUFFERED=1
EXPOSE 5000
# Migrations first (retried while the database comes up), then gunicorn. Worker: `flask --app app worker`.
ENTRYPOINT ["scripts/docker_entrypoint.sh"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"]
