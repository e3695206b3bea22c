"""Each request that may write runs in one transaction that names its actor first."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest, HttpResponseBase

from webapp.maintenance.actor import set_actor

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class ActorTransactionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method in SAFE_METHODS:
            return self.get_response(request)
        with transaction.atomic():
            set_actor(request.user)
            return self.get_response(request)
