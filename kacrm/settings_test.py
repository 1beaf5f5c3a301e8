import os

# The suite loads the development configuration, as `make run` does (pytest-django then runs each test with DEBUG off).
os.environ.setdefault("DJANGO_DEBUG", "1")

from .settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
LANGUAGE_CODE = "en"
WHITENOISE_AUTOREFRESH = True  # serve from the finders; no collectstatic needed in tests
WHITENOISE_USE_FINDERS = True
# Tests run tasks in-process; the tests that need a real worker (tests/test_celery_worker.py) switch it off.
CELERY_TASK_ALWAYS_EAGER = True
if REDIS_URL:  # noqa: F405
    CACHES = {"default": {**CACHES["default"], "KEY_PREFIX": "kacrm-test"}}  # noqa: F405
# Threads of the live server and the Celery test worker must not keep sessions open on the test database.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
