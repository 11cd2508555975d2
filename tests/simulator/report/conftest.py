"""Fixtures of the report tests.

The synthetic run writers live one folder up, in
``tests/simulator/runfixtures.py``; this folder is collected on its own
path, so that folder is put on the import path here.
"""

from __future__ import annotations

import sys
from pathlib import Path

FIXTURES = str(Path(__file__).resolve().parents[1])
if FIXTURES not in sys.path:
    sys.path.insert(0, FIXTURES)
