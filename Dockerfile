FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UVICORN_HOST=0.0.0.0 UVICORN_PORT=8000
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Swagger UI and ReDoc (drf-spectacular-sidecar) are collected with the app's own static files.
RUN SECRET_KEY=build FIELD_ENCRYPTION_KEY=build python manage.py collectstatic --noinput
EXPOSE 8000
# docker-compose.yml runs `migrate` first; this is the web command: uvicorn serves HTTP and the
# ConversationRelay WebSocket (binds $UVICORN_HOST:$UVICORN_PORT, $WEB_CONCURRENCY workers).
# gunicorn + salesagents.wsgi still serves HTTP alone for gather-only deployments.
CMD ["uvicorn", "salesagents.asgi:application", "--proxy-headers", "--timeout-graceful-shutdown", "20"]
