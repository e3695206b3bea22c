"""The secret keys: Fernet keys for endpoint URLs, and Django's signing key derived from them."""

from __future__ import annotations

import hashlib
import os

from cryptography.fernet import Fernet

from tiltbob.environment import ConfigurationError, Environment

KEY_FILE = "secret.key"
GENERATE_HINT = (
    'generate one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


def secret_keys(env: Environment) -> tuple[str, ...]:
    """The keys in force, newest first.

    On the embedded default a key is generated once and kept under the data directory; a
    deployment that names its own database must name its keys too, or encrypted URLs would
    become unreadable the day its container is rebuilt.
    """
    if env.secret_keys:
        keys = env.secret_keys
    elif env.embedded:
        keys = (_kept_key(env),)
    else:
        raise ConfigurationError(
            "TILTBOB_SECRET_KEYS is not set and DATABASE_URL is: set it to one or more "
            f"comma-separated Fernet keys, newest first ({GENERATE_HINT})"
        )
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ConfigurationError(
                f"TILTBOB_SECRET_KEYS entry {position} is not a Fernet key "
                f"(32 url-safe base64-encoded bytes); {GENERATE_HINT}"
            ) from None
    return keys


def _kept_key(env: Environment) -> str:
    path = env.data_dir / KEY_FILE
    if not path.exists():
        env.data_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once must not write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(Fernet.generate_key().decode() + "\n")
    return path.read_text().strip()


def django_secret_key(key: str) -> str:
    """Django's SECRET_KEY for one Fernet key: derived, so one secret never serves two purposes."""
    return hashlib.sha256(b"tiltbob/django-secret-key\x00" + key.encode()).hexdigest()
