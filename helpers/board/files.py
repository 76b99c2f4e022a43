"""Repository paths and atomic file writes. Board-safe (standard library only)."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, Union

from helpers.errors import HelpersError

PathLike = Union[str, "os.PathLike[str]"]

#: The repository root: ``helpers`` is installed in editable mode, so this is the checkout.
REPO_ROOT = Path(os.environ.get("RDK_REPO_ROOT", Path(__file__).resolve().parents[2]))
DATA_DIR = REPO_ROOT / "data"
#: ``model/``; ``RDK_MODEL_DIR`` points it elsewhere (tests put fake .bin files there, a board may keep them on a card)
MODEL_DIR = Path(os.environ.get("RDK_MODEL_DIR") or REPO_ROOT / "model")
YAML_DIR = REPO_ROOT / "yaml"
NOTEBOOK_DIR = REPO_ROOT / "notebooks"


def repo_path(*parts: PathLike) -> Path:
    """A path inside the repository, independent of the current working directory."""
    return REPO_ROOT.joinpath(*map(str, parts))


def rel_to_repo(path: PathLike) -> str:
    """``path`` relative to the repository root when it lies inside it (for messages)."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(REPO_ROOT.resolve()))
    except ValueError:
        return str(p)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def check_writable_target(path: PathLike, overwrite: bool) -> Path:
    """Refuse to replace an existing file unless ``overwrite`` is set."""
    path = Path(path)
    if path.is_dir():
        raise HelpersError(f"{path} is a directory; give a file name to write to")
    if path.exists() and not overwrite:
        raise HelpersError(f"{path} already exists; pass --overwrite (overwrite=True) to replace it")
    return path


@contextlib.contextmanager
def atomic_output(path: PathLike, overwrite: bool = False, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it into place.

    Nothing half-written is ever left at ``path``: if the block raises, the temporary file is
    removed and ``path`` is untouched.
    """
    path = check_writable_target(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp",
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes it private; the result is an ordinary file
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(path: PathLike, text: str, overwrite: bool = False) -> Path:
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_bytes(path: PathLike, data: bytes, overwrite: bool = False) -> Path:
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)


@contextlib.contextmanager
def atomic_output_dir(path: PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder next to ``path``; on success it replaces ``path`` whole.

    The caller decides beforehand whether an existing ``path`` may be replaced. If the block
    raises, the temporary folder is removed and ``path`` is untouched.
    """
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield tmp
        if path.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, trash / path.name)
            os.replace(tmp, path)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
