"""The yardstick the requirements first proposed: Django ``post_save`` + ``on_commit`` + a
django-q2 task (ORM broker) that POSTs with httpx. tiltbob's own settings, plus django_q."""

import os

from webapp.settings import *  # noqa: F403
from webapp.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_q", "bench.djangoq_app"]
Q_CLUSTER = {
    "name": "bench",
    "orm": "default",
    "workers": 2,
    "timeout": 30,
    "retry": 60,
    "poll": 0.2,
    "save_limit": 0,
    "ack_failures": True,
    "catch_up": False,
}
BENCH_RECEIVER_URL = os.environ.get("BENCH_RECEIVER_URL", "http://127.0.0.1:9100/djangoq")
