"""The yardstick the requirements first proposed: Django ``post_save`` + ``on_commit`` + a
django-q2 task (ORM broker) that POSTs with httpx. tiltbob's own settings, plus django_q,
configured as django-q2's documentation recommends: a worker per core (its default), ``bulk``
dequeues for a database broker, the ORM broker's default poll; the task keeps one HTTP client
alive (bench/djangoq_app/tasks.py)."""

import os

from webapp.settings import *  # noqa: F403
from webapp.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_q", "bench.djangoq_app"]
Q_CLUSTER = {
    "name": "bench",
    "orm": "default",
    "workers": os.cpu_count() or 1,
    "bulk": 5,
    "timeout": 30,
    "retry": 60,
    "poll": 0.2,
    "save_limit": 0,
    "ack_failures": True,
    "catch_up": False,
}
BENCH_RECEIVER_URL = os.environ.get("BENCH_RECEIVER_URL", "http://127.0.0.1:9100/djangoq")
