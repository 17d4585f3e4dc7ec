"""``python -m benchmarks [--quick] [--json] [--out DIR]`` (also ``make bench`` and ``assistant bench``)."""

from __future__ import annotations

import sys

from assistant.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
