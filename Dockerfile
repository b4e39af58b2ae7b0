# Production image: gunicorn serving the MES; the same image runs the Celery worker and beat.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=mes.settings.base
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 curl && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=build-only-collectstatic python manage.py collectstatic --no-input
RUN useradd --system --uid 1000 mes && mkdir -p /app/var && chown -R mes /app/var
USER mes
EXPOSE 8000
CMD ["gunicorn", "mes.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
