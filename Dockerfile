FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# The image carries its static files and their manifest (DEBUG off needs them; kacrm/wsgi.py will not start
# without them), checked complete before the image is kept.
RUN DJANGO_SECRET_KEY=collectstatic DJANGO_DEBUG=0 python manage.py collectstatic --noinput \
 && DJANGO_SECRET_KEY=collectstatic DJANGO_DEBUG=0 python manage.py check --deploy --tag staticfiles
EXPOSE 8000
CMD ["gunicorn", "kacrm.wsgi", "-b", "0.0.0.0:8000", "-w", "3"]
