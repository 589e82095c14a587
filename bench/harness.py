#!/usr/bin/python3
"""Vajra benchmark harness: Vajra vs no sensor vs auditd, side by side (`--help` for the options).

The entry point of `sudo bench/run.sh`; the code is the package bench/vbench/, one job per module (its
__init__.py lists them). Run it through bench/run.sh (which installs and builds first). Needs root. See
docs/benchmarks.md. Use /usr/bin/python3: it needs Debian's python3-yaml and python3-matplotlib.
"""

import os
import sys

# No __pycache__ in the source tree: the harness used to be a single script, which Python never caches.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vbench.cli import main  # noqa: E402 (needs the path above)

if __name__ == "__main__":
    main()
