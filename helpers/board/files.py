"""Repository paths and atomic file writes. Board-safe (standard library only).

What happens to your files (docs/faq.md says the same):

* Every output is built under a temporary name beside it (``.rdktmp.<pid>.<name>...``) and moved
  into place only when complete; an error, Ctrl-C or SIGTERM (the CLI turns it into an exception)
  removes the temporary file or folder. Temporary names of runs killed hard (SIGKILL, power loss)
  are removed by a later run writing to the same folder once they are :data:`STALE_SECONDS` old
  and their process is gone.
* An existing file or folder is never replaced without ``overwrite`` - also not one that appears
  while the run works (a second run, a user saving): the last step is atomic "create, do not
  replace" (``os.link`` for files, ``renameat2(RENAME_NOREPLACE)`` for folders), and the run that
  lost says so and which run won.
* ``overwrite`` of a folder replaces only a folder of ours: every file in it must be listed in the
  manifest (:data:`MANIFEST`) the writing run left, or be one the command recognises as its own
  (``owned``); a folder holding anything else is refused, nothing is deleted.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import os
import re
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Union

from helpers.errors import NAME_MAX, HelpersError, brief, name_too_long

PathLike = Union[str, "os.PathLike[str]"]

#: The repository root: ``helpers`` is installed in editable mode, so this is the checkout.
REPO_ROOT = Path(os.environ.get("RDK_REPO_ROOT", Path(__file__).resolve().parents[2]))
DATA_DIR = REPO_ROOT / "data"
#: ``model/``; ``RDK_MODEL_DIR`` points it elsewhere (tests put fake .bin files there, a board may keep them on a card)
MODEL_DIR = Path(os.environ.get("RDK_MODEL_DIR") or REPO_ROOT / "model")
YAML_DIR = REPO_ROOT / "yaml"
NOTEBOOK_DIR = REPO_ROOT / "notebooks"

#: every temporary name of ours starts with this (then the pid, then the target's name)
TMP_TAG = ".rdktmp."
_TMP_RE = re.compile(r"^\.rdktmp\.(\d+)\.")
#: a temporary name of a process that is gone is removed once it is this old (seconds)
STALE_SECONDS = 3600
#: a folder written by :func:`atomic_output_dir` lists its files here (JSON)
MANIFEST = ".rdk-manifest.json"
#: virtual file systems: nothing can be written there
VIRTUAL_FS = ("proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs", "securityfs",
              "configfs", "tracefs", "pstore", "bpf", "efivarfs", "fusectl", "mqueue", "hugetlbfs")


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


# ------------------------------------------------------------------------------------------------
# why a path cannot be written, in one line
# ------------------------------------------------------------------------------------------------
def _fs_type(path: Path) -> Optional[str]:
    """The file system type of the mount holding ``path`` (Linux ``/proc/self/mounts``), else None."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
            mounts = [line.split()[1:3] for line in f.read(1 << 20).splitlines() if len(line.split()) > 2]
    except OSError:
        return None
    p = str(Path(os.path.abspath(path)))
    best = max((m for m in mounts if p == m[0] or p.startswith(m[0].rstrip("/") + "/")),
               key=lambda m: len(m[0]), default=None)
    return best[1] if best else None


def _exists(p: Path) -> bool:
    try:
        os.lstat(p)
        return True
    except (OSError, ValueError):  # missing, name too long, NUL byte ...
        return False


def _existing_ancestor(path: Path) -> Path:
    p = Path(os.path.abspath(path))
    while not _exists(p) and p != p.parent:
        p = p.parent
    return p


def _long_part(path: Path) -> Optional[str]:
    """The first component of ``path`` longer than :data:`NAME_MAX` bytes (the OS refuses any such path), or None."""
    return next((part for part in path.parts if len(os.fsencode(part)) > NAME_MAX), None)


def _check_name_lengths(path: Path) -> None:
    if _long_part(path) is not None:
        raise write_error(path, OSError(errno.ENAMETOOLONG, "File name too long"))


#: the errno values that say what is wrong with a path (not with the program): the CLI reports them as one line
PATH_ERRNOS = (errno.ENAMETOOLONG, errno.EROFS, errno.ENOSPC, getattr(errno, "EDQUOT", -1), errno.EACCES,
               errno.EPERM, errno.ENOTDIR, errno.ELOOP)


def write_error(path: PathLike, e: OSError, verb: str = "write",
                fix: str = "give another --out on a writable disk") -> HelpersError:
    """A one-line, actionable error for an ``OSError`` met while writing (``verb``) ``path``."""
    path = Path(path)
    code = getattr(e, "errno", None)
    fs = _fs_type(_existing_ancestor(path))
    if fs in VIRTUAL_FS:
        why = f"it lies on a virtual file system ({fs}) where no files can be created"
    elif code == errno.EROFS:
        why = "the file system is read-only"
    elif code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        why = "the disk is full (or your quota is used up)"
    elif code == errno.ENAMETOOLONG:
        why = name_too_long(path)
    elif code in (errno.EACCES, errno.EPERM):
        why = "permission denied"
    elif code == errno.ENOTDIR:
        why = "a part of the path is a file, not a folder"
    elif code == errno.ELOOP:
        why = "too many levels of symbolic links"
    else:
        why = e.strerror or type(e).__name__
    return HelpersError(f"cannot {verb} {brief(str(path), 160)[1:-1]}: {why}; {fix}")


def _check_parent(path: Path) -> None:
    """Fail before any work when ``path`` cannot be created: name too long, parent a file, read-only."""
    _check_name_lengths(path)
    anc = _existing_ancestor(path.parent)
    if not anc.is_dir():
        raise write_error(path, OSError(errno.ENOTDIR, "Not a directory"))
    fs = _fs_type(anc)
    try:
        read_only = bool(os.statvfs(anc).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # pragma: no cover - no statvfs (Windows)
        read_only = False
    if fs in VIRTUAL_FS or read_only:
        raise write_error(path, OSError(errno.EROFS, "Read-only file system"))
    if not os.access(anc, os.W_OK | os.X_OK):
        raise write_error(path, OSError(errno.EACCES, "Permission denied"))


def check_writable_target(path: PathLike, overwrite: bool) -> Path:
    """Refuse to replace an existing file unless ``overwrite`` is set; refuse a path that cannot be written."""
    path = Path(path)
    _check_name_lengths(path)  # before any stat: those fail on it too
    if path.is_dir():
        raise HelpersError(f"{path} is a directory; give a file name to write to")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise HelpersError(f"{path} already exists; pass --overwrite (overwrite=True) to replace it")
    _check_parent(path)
    return path


def _mkdir_parent(path: Path) -> List[Path]:
    """Create the missing folders above ``path``; return them, deepest first (what a failed run removes)."""
    made = []
    p = Path(os.path.abspath(path.parent))
    while not _exists(p) and p != p.parent:
        made.append(p)
        p = p.parent
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _remove_made(made)
        raise write_error(path, e) from None
    return made


def _remove_made(made: List[Path]) -> None:
    """Remove the folders :func:`_mkdir_parent` created, deepest first, as long as they are empty."""
    for d in made:
        try:
            d.rmdir()
        except OSError:  # not empty (someone else wrote there meanwhile) or already gone: leave it
            return


# ------------------------------------------------------------------------------------------------
# temporary names: recognisable, removed on errors and signals, stale ones cleaned by later runs
# ------------------------------------------------------------------------------------------------
def tmp_prefix(path: PathLike) -> str:
    """The temporary-name prefix for ``path``: tag, pid and (a short form of) the target's name."""
    return f"{TMP_TAG}{os.getpid()}.{Path(path).name[:40]}."


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # someone else's process (or no kill on this OS): assume alive
        return True
    return True


def remove_stale(folder: PathLike, max_age: float = STALE_SECONDS) -> List[str]:
    """Remove our temporary files/folders in ``folder`` whose process is gone and that are older than ``max_age`` s."""
    import shutil

    removed, now = [], time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        m = _TMP_RE.match(e.name)
        if not m:
            continue
        try:
            st = e.stat(follow_symlinks=False)
            if now - st.st_mtime < max_age or _pid_alive(int(m.group(1))):
                continue
            if e.is_dir(follow_symlinks=False):
                shutil.rmtree(e.path, ignore_errors=True)
            else:
                os.unlink(e.path)
            removed.append(e.name)
        except OSError:
            continue
    return removed


# ------------------------------------------------------------------------------------------------
# "create, do not replace", atomically
# ------------------------------------------------------------------------------------------------
RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def _renameat2_noreplace(src: Path, dst: Path) -> bool:
    """``renameat2(src, dst, RENAME_NOREPLACE)`` (Linux, glibc >= 2.28): True when done, False when
    unavailable here; raises ``FileExistsError`` when ``dst`` exists."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), RENAME_NOREPLACE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, getattr(errno, "ENOTSUP", -1), getattr(errno, "EOPNOTSUPP", -1)):
        return False  # the file system does not support the flag
    raise OSError(err, os.strerror(err), str(dst))


def _when(path: Path) -> str:
    try:
        return _dt.datetime.fromtimestamp(path.stat().st_mtime).strftime("%H:%M:%S")
    except OSError:
        return "just now"


class LostRace(HelpersError):
    """The output appeared while this run worked; the other run's result was kept."""


def _lost(path: Path, who: str = "another run or program") -> LostRace:
    return LostRace(f"{path} was created by {who} (at {_when(path)}) while this run was writing it; "
                    "that one won and is kept, this run's result was discarded - pass --overwrite to replace it")


def _link_noreplace(tmp: Path, path: Path) -> None:
    """Put the file ``tmp`` at ``path`` unless ``path`` exists (then :class:`LostRace`)."""
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        raise _lost(path) from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, getattr(errno, "ENOTSUP", -1),
                           getattr(errno, "EOPNOTSUPP", -1), errno.EACCES):
            raise
    try:  # a file system without hard links (FAT, some network and FUSE mounts)
        if _renameat2_noreplace(tmp, path):
            return
    except FileExistsError:
        raise _lost(path) from None
    if path.exists() or path.is_symlink():  # last resort: check, then rename (a tiny window remains)
        raise _lost(path)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_output(path: PathLike, overwrite: bool = False, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it into place.

    Nothing half-written is ever left at ``path``: if the block raises (also on Ctrl-C and, under
    the CLI, SIGTERM) the temporary file is removed and ``path`` is untouched. Without
    ``overwrite`` an existing ``path`` is refused at the start and never replaced at the end either
    (:class:`LostRace` names the winner). Write errors (read-only, full disk, name too long) are
    one-line HelpersErrors.
    """
    path = check_writable_target(path, overwrite)
    made = _mkdir_parent(path)
    remove_stale(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=tmp_prefix(path), suffix=suffix or path.suffix or ".tmp",
                                   dir=path.parent)
    except OSError as e:
        _remove_made(made)
        raise write_error(path, e) from None
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes it private; the result is an ordinary file
    try:
        try:
            yield tmp_path
            if overwrite:
                if path.is_dir():
                    raise HelpersError(f"{path} became a directory while this run was writing it; nothing replaced")
                os.replace(tmp_path, path)
            else:
                _link_noreplace(tmp_path, path)
        except OSError as e:
            if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1), errno.EROFS, errno.EFBIG,
                           errno.ENAMETOOLONG, errno.EACCES, errno.EPERM):
                raise write_error(path, e) from None
            raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if not path.exists():  # the run failed: the folders it created for ``path`` go too
            _remove_made(made)


def atomic_write_text(path: PathLike, text: str, overwrite: bool = False) -> Path:
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_bytes(path: PathLike, data: bytes, overwrite: bool = False) -> Path:
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)


# ------------------------------------------------------------------------------------------------
# folders: a manifest of what we wrote, and only that may be replaced
# ------------------------------------------------------------------------------------------------
def _files_under(folder: Path) -> List[str]:
    """Relative POSIX paths of every non-directory entry under ``folder`` (symlinks not followed)."""
    out = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        for d in list(dirs):
            if os.path.islink(os.path.join(root, d)):  # a link to a folder is an entry, not a subtree
                dirs.remove(d)
                files.append(d)
        out += [(rel / f).as_posix() for f in files]
    return sorted(out)


def read_manifest(folder: PathLike) -> Optional[dict]:
    """The manifest :func:`atomic_output_dir` left in ``folder``, or None (absent or unreadable)."""
    from helpers.board.safe_read import load_json

    try:
        m = load_json(Path(folder) / MANIFEST, "manifest")
    except HelpersError:
        return None
    return m if isinstance(m, dict) and isinstance(m.get("files"), list) else None


def foreign_files(folder: PathLike, owned: Optional[Callable[[str], bool]] = None) -> List[str]:
    """Files in ``folder`` that we did not write: not in its manifest and not ``owned(relative path)``."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    listed = {str(f) for f in manifest["files"]} if manifest else set()
    return [f for f in _files_under(folder)
            if f != MANIFEST and f not in listed and not (owned is not None and owned(f))]


def check_output_dir(path: PathLike, overwrite: bool, owned: Optional[Callable[[str], bool]] = None,
                     what: str = "output") -> Path:
    """May ``path`` become our output folder? Absent or empty: yes; ours (manifest / ``owned``) with
    ``overwrite``: yes; anything else: a one-line HelpersError. Call it before the slow work."""
    path = Path(path)
    _check_name_lengths(path)
    if path.is_symlink() and not path.is_dir():
        raise HelpersError(f"{path} is a link to nothing; remove it or give another --out")
    if path.exists():
        if not path.is_dir():
            raise HelpersError(f"{path} exists and is not a folder; give a new folder for the {what}")
        if any(path.iterdir()):
            if not overwrite:
                raise HelpersError(f"{path} already exists and is not empty; pass --overwrite to replace it")
            foreign = foreign_files(path, owned)
            if foreign:
                raise HelpersError(f"{path} holds {len(foreign)} file(s) this command did not write (e.g. "
                                   f"{brief(foreign[0], 80)}); --overwrite replaces only our own folders: move "
                                   "them away or give another --out")
    _check_parent(path)
    return path


def _manifest_text(tmp: Path) -> str:
    import json

    return json.dumps({"written_by": "python -m helpers " + " ".join(sys.argv[1:])[:300],
                       "pid": os.getpid(), "host": socket.gethostname(),
                       "time": _dt.datetime.now().isoformat(timespec="seconds"),
                       "files": _files_under(tmp)}, indent=1) + "\n"


def _winner(path: Path) -> str:
    m = read_manifest(path)
    if not m:
        return "another run or program"
    return f"another run (pid {m.get('pid')} on {m.get('host')}, {brief(str(m.get('written_by')), 80)})"


def _rename_dir_noreplace(tmp: Path, path: Path) -> None:
    with contextlib.suppress(FileNotFoundError, OSError):
        os.rmdir(path)  # an empty folder holds nothing to lose; a non-empty one stays and makes us lose
    try:
        if _renameat2_noreplace(tmp, path):
            return
        # POSIX rename(2) onto a non-empty folder fails (ENOTEMPTY/EEXIST); onto an empty one it
        # replaces nothing of value; Windows refuses any existing target
        os.rename(tmp, path)
    except (FileExistsError, IsADirectoryError, NotADirectoryError):
        raise _lost(path, _winner(path)) from None
    except OSError as e:
        if e.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise _lost(path, _winner(path)) from None
        raise


@contextlib.contextmanager
def atomic_output_dir(path: PathLike, overwrite: bool = False, owned: Optional[Callable[[str], bool]] = None,
                      manifest: bool = True) -> Iterator[Path]:
    """Yield a fresh temporary folder next to ``path``; on success it becomes ``path``.

    ``path`` must pass :func:`check_output_dir` (on entry and again at the end): an existing
    folder is replaced only with ``overwrite`` and only if it holds nothing but our files. With
    ``manifest`` the folder gets a :data:`MANIFEST` listing its files (leave it off for folders a
    tool reads whole, like a mapper's ``cal_data_dir``). If the block raises (also Ctrl-C and,
    under the CLI, SIGTERM), the temporary folder is removed and ``path`` is untouched.
    """
    import shutil

    path = check_output_dir(path, overwrite, owned)
    made = _mkdir_parent(path)
    remove_stale(path.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=tmp_prefix(path), dir=path.parent))
    except OSError as e:
        _remove_made(made)
        raise write_error(path, e) from None
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield tmp
        if manifest:
            (tmp / MANIFEST).write_text(_manifest_text(tmp), encoding="utf-8")
        if overwrite and path.is_dir() and any(path.iterdir()):
            check_output_dir(path, overwrite, owned)  # still ours (nothing added meanwhile)?
            trash = Path(tempfile.mkdtemp(prefix=tmp_prefix(path) + "old.", dir=path.parent))
            os.rename(path, trash / "old")
            try:
                _rename_dir_noreplace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    _rename_dir_noreplace(trash / "old", path)  # put the old one back
                raise
            finally:
                shutil.rmtree(trash, ignore_errors=True)
        else:
            _rename_dir_noreplace(tmp, path)
    except OSError as e:
        if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1), errno.EROFS, errno.EFBIG, errno.ENAMETOOLONG):
            raise write_error(path, e) from None
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if not path.exists():  # the run failed: the folders it created for ``path`` go too
            _remove_made(made)
