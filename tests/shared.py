"""Where ``../shared`` is: the Discord and Compose specifications the tests validate against."""

import os
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TILTBOB_SHARED_DIR") or PROJECT.parent / "shared")
