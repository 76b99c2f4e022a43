"""helpers.board.files: atomic writes."""
import os

import pytest

from helpers.errors import HelpersError


def test_atomic_writes_leave_nothing_half_written(tmp_path):
    from helpers.board.files import atomic_output, atomic_write_text

    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("crash mid-write")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    atomic_write_text(target, "one")
    with pytest.raises(HelpersError, match="already exists"):
        atomic_write_text(target, "two")
    assert target.read_text() == "one"
    atomic_write_text(target, "two", overwrite=True)
    assert target.read_text() == "two"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_current_umask())


def _current_umask():
    u = os.umask(0)
    os.umask(u)
    return u
