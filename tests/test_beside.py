"""``tiltbob run`` keeps its web server and its listener together: when the web server dies the
process stops (non-zero, for a supervisor to restart it), and a shutdown asked for is clean."""

from __future__ import annotations

import signal
import threading

import pytest

from tiltbob.beside import run_beside


def test_when_the_web_server_dies_the_process_stops_and_says_why() -> None:
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    closed: list[bool] = []
    try:

        def web() -> None:
            raise OSError("the listening socket is gone")

        def main() -> None:  # the listener: stops on SIGTERM
            assert stopped.wait(10), "the main work was never told to stop"

        reason = run_beside(web, lambda: closed.append(True), main)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert reason == "OSError: the listening socket is gone"
    assert closed == [True]


def test_a_shutdown_asked_for_is_not_a_death() -> None:
    serving, released = threading.Event(), threading.Event()

    def web() -> None:
        serving.set()
        released.wait(10)

    def main() -> None:
        assert serving.wait(5)

    assert run_beside(web, released.set, main) is None


def test_the_web_server_is_closed_when_the_listener_fails() -> None:
    closed: list[bool] = []
    released = threading.Event()

    def web() -> None:
        released.wait(10)

    def close() -> None:
        closed.append(True)
        released.set()

    def main() -> None:
        raise RuntimeError("the listener could not start")

    with pytest.raises(RuntimeError, match="could not start"):
        run_beside(web, close, main)
    assert closed == [True]
