"""Test settings: the base settings with fast password hashing and eager Celery.

DATABASE_URL / REDIS_URL select PostgreSQL and Redis (CI sets both); SQLite otherwise.
"""

import os

os.environ.setdefault("MES_ALLOW_INSECURE_KEY", "1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")
os.environ.setdefault("MES_VAR_DIR", "/tmp/mes-test-var")  # noqa: S108

from mes.settings.base import *  # noqa: F403
from mes.settings.base import REDIS_URL

# A fast hasher for the suite; tests of the production hasher override this.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = REDIS_URL or "memory://"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
ADMINS = [("MES administrators", "mes-admins@example.com")]
