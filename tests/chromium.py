"""How the browser tests, the README screenshots and the map benchmarks start Chromium.

Debian's chromium, headless, with the flags this closed network needs: without the
background-networking ones Chromium keeps trying to reach Google's hosts.
"""

import os

CHROMIUM = os.environ.get("LUODIAN_MAP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
