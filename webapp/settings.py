"""Django settings, all taken from :mod:`tiltbob.environment` (the environment, read once)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import django_stubs_ext

from tiltbob import database, environment, keys

# Lets admin and form classes be subscripted with their model, as the type stubs expect.
django_stubs_ext.monkeypatch()

# Lower case: not a setting, so Django's debug pages never print it (it holds the secrets).
_env = environment.load()
BASE_DIR = Path(__file__).resolve().parent

_keys = keys.secret_keys(_env)
SECRET_KEY = keys.django_secret_key(_keys[0])
# Older keys still verify sessions and CSRF tokens while a rotation settles.
SECRET_KEY_FALLBACKS = [keys.django_secret_key(k) for k in _keys[1:]]

DEBUG = _env.debug
ALLOWED_HOSTS = sorted({_env.site_host, "127.0.0.1", "localhost", "[::1]"})
CSRF_TRUSTED_ORIGINS = [_env.site_url]
SITE_URL = _env.site_url
TILTBOB_SECRET_KEYS = _keys
TILTBOB_ALLOW_HTTP = _env.allow_http
TILTBOB_TRUSTED_PROXIES = _env.trusted_proxies
TILTBOB_ALLOW_PRIVATE_ENDPOINTS = _env.allow_private_endpoints
# The public form's limits (webapp/maintenance/public_form.py): (reports, seconds).
TILTBOB_REPORTS_PER_ADDRESS = (5, 600)
TILTBOB_REPORTS_PER_MACHINE = (30, 3600)
# A person needs a few seconds to fill the form; a bot that posts at once is thanked and ignored.
TILTBOB_REPORT_MIN_SECONDS = _env.report_min_seconds

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "webapp.maintenance",
    "webapp.notifications",
    "axes",
]

# Logins (/login/, /admin/) are throttled by django-axes, its record of failures in PostgreSQL:
# five failures for one username from one address lock that pair out for 15 minutes.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "webapp.maintenance.public_form.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    # Last, so the transaction it opens wraps the view and nothing else.
    "webapp.maintenance.middleware.ActorTransactionMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": database.django_config(database.url(_env))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "machine-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = _env.time_zone  # pages show the museum's times; the database keeps UTC
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# Served by WhiteNoise straight from the installed packages: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
# Behind https (a TLS-terminating proxy, README "Deployment"): cookies only over TLS, and HSTS.
_https = _env.site_url.startswith("https://")
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_HSTS_SECONDS = 365 * 24 * 3600 if _https else 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _https else None
