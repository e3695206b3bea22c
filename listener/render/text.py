"""Text helpers shared by the renderers: cutting to a limit, cleaning untrusted text."""

from __future__ import annotations

import re
import unicodedata

ELLIPSIS = "…"
# C0/C1 control characters other than tab and newline; NUL included.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: object) -> str:
    """Untrusted text made safe to place anywhere: no control characters, CR LF as LF."""
    value = "" if text is None else str(text)
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", value)


def one_line(text: object) -> str:
    """``clean`` and every run of whitespace (line breaks too) folded to one space."""
    return " ".join(clean(text).split())


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, cut at a word boundary with an ellipsis.

    A backslash left dangling at the cut (half an escape) is dropped too.
    """
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    head = text[: limit - len(ELLIPSIS)]
    space = max(head.rfind(" "), head.rfind("\n"))
    if space >= (limit * 2) // 3:
        head = head[:space]
    head = head.rstrip()
    while head.endswith("\\") and (len(head) - len(head.rstrip("\\"))) % 2 == 1:
        head = head[:-1]
    # Never end on half of a surrogate-free but combining sequence: drop trailing combiners.
    while head and unicodedata.combining(head[-1]):
        head = head[:-1]
    return head + ELLIPSIS
