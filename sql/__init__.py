"""The database side of tiltbob, in plain SQL files a DBA can read.

Django migrations apply them (``tiltbob migrate``); Python code reads them by name.
"""

from importlib.resources import files


def read(name: str) -> str:
    """The text of one ``.sql`` file in this folder."""
    return files(__name__).joinpath(name).read_text(encoding="utf-8")
