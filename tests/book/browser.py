"""The headless Chromium that the browser tests drive (the built book and JupyterLab).

``CHROMIUM`` is the executable (``make test`` exports it; Debian's by default), launched without
a sandbox (CI runs as root) and without any background network traffic of its own.
"""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
