"""``tiltbob run``'s two halves in one process: the web server in a thread beside the main
thread's work (the listener), and neither outliving the other."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable


def run_beside(
    serve_web: Callable[[], None], close_web: Callable[[], None], main: Callable[[], None]
) -> str | None:
    """Run ``serve_web`` in a thread and ``main`` here. When the web server stops on its own,
    this process is sent SIGTERM, which ``main`` must answer by returning; when ``main``
    returns (or raises), the web server is closed. Returns why the web server stopped on its
    own, or None if it did not (then a supervisor should not restart us)."""
    closing = threading.Event()
    died: list[str] = []

    def web() -> None:
        try:
            serve_web()
        except BaseException as error:  # whatever stopped it, the process must not go on half
            if not closing.is_set():
                died.append(f"{type(error).__name__}: {error}")
        else:
            if not closing.is_set():
                died.append("it returned")
        if not closing.is_set():
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=web, name="web", daemon=True)
    thread.start()
    try:
        main()
    finally:
        closing.set()
        close_web()
        thread.join(timeout=10)
    return died[0] if died else None
