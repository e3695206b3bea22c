"""Settings for the test suite: the app's own, with a fixed key when none is given.

A fixed key is fine here: nothing the tests encrypt outlives them. Exported, so the
processes the tests start (``tiltbob run``, the listener) use the same one.
"""

import os

os.environ.setdefault("TILTBOB_SECRET_KEYS", "dGlsdGJvYi10ZXN0LWtleS0wMDAwMDAwMDAwMDAwMDA=")
os.environ.setdefault("TILTBOB_LOG_FORMAT", "json")
# Test receivers listen on plain http on 127.0.0.1.
os.environ.setdefault("TILTBOB_ALLOW_HTTP", "1")
os.environ.setdefault("TILTBOB_ALLOW_PRIVATE_ENDPOINTS", "1")
# Times in the expected pages and messages are UTC; the tests about the museum's zone set one.
os.environ["TILTBOB_TIME_ZONE"] = "UTC"

from webapp.settings import *  # noqa: F403

# Browsers driven by the tests fill the form in well under a second; the tests that are about
# the minimum fill time set it themselves.
TILTBOB_REPORT_MIN_SECONDS = 0
