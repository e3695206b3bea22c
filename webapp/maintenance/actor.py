"""Who is acting, told to the database so its triggers can name them (``tiltbob.actor``)."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import connection

from tiltbob.catalogue import VISITOR
from webapp.maintenance.models import Maintainer


def maintainer_for(user: AbstractBaseUser) -> Maintainer:
    """The user's maintainer record, created on first use from their name."""
    maintainer, _ = Maintainer.objects.get_or_create(
        user=user,
        defaults={"display_name": _name_of(user)},
    )
    return maintainer


def _name_of(user: AbstractBaseUser) -> str:
    full = getattr(user, "get_full_name", lambda: "")()
    return str(full).strip() or user.get_username()


def set_actor(user: AbstractBaseUser | AnonymousUser) -> None:
    """Name the actor for the current transaction (``set_config(..., true)``: it ends with it)."""
    if user.is_authenticated:
        maintainer = maintainer_for(user)
        name, maintainer_id = maintainer.display_name, str(maintainer.pk)
    else:
        name, maintainer_id = VISITOR, ""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('tiltbob.actor', %s, true),"
            " set_config('tiltbob.actor_id', %s, true)",
            [name, maintainer_id],
        )


def set_note(note: str) -> None:
    """A note for the automatic log entry of the next change in this transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('tiltbob.note', %s, true)", [note])
