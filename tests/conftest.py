"""Test layout: tests/<package>/ mirrors helpers/<package>/; ``testkit`` (shared test helpers) is importable."""
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
