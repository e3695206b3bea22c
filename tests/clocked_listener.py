"""``tiltbob listen`` on a clock a test moves: the time now, plus the seconds written in a file.

``python -m tests.clocked_listener CLOCK_FILE [listen options]``: what the listener measures by
its clock (how long an endpoint has been failing) passes as fast as the test writes the file.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import datetime, timedelta
from pathlib import Path

from listener import main as listen
from listener.settings import system_clock


class FileClock:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> datetime:
        text = self.path.read_text().strip() if self.path.exists() else ""
        return system_clock() + timedelta(seconds=float(text or 0))

    def move_on(self, by: timedelta) -> None:
        """Add ``by`` to the offset (the test's side)."""
        text = self.path.read_text().strip() if self.path.exists() else ""
        self.path.write_text(str(float(text or 0) + by.total_seconds()))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="clocked_listener")
    parser.add_argument("clock_file", type=Path)
    listen.add_arguments(parser)
    options = parser.parse_args(argv)
    settings = dataclasses.replace(
        listen.settings_from(options), clock=FileClock(options.clock_file)
    )
    listen.run_loop(listen.serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
