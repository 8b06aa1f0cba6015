FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORT=8000
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Swagger UI and ReDoc (drf-spectacular-sidecar) are collected with the app's own static files.
RUN SECRET_KEY=build FIELD_ENCRYPTION_KEY=build python manage.py collectstatic --noinput
EXPOSE 8000
# docker-compose.yml runs `migrate` first; this is the web command (gunicorn binds 0.0.0.0:$PORT).
CMD ["gunicorn", "salesagents.wsgi:application", "--threads", "4", "--timeout", "20"]
