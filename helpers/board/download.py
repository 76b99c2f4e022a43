"""Download the model files the RDK Model Zoo publishes (URLs: ``registry.Published.bin_url``): ``.bin``
for X3/X5, ``.hbm`` for S100/S100P/S600.

Files go to ``model/<Arch>/rdk_<board>/<name>`` (``ModelSpec.published_bin_path``): the folder says
which board a file is for (the zoo's X3 and X5 MobileNetV1 files have the same name, so have its S100
and S600 ``.hbm`` files).

Every download is verified by SHA-256 where the zoo's manifest records one (``Published.sha256``;
``docs/release/s/models.yaml`` records none for our files): a mismatch leaves nothing behind. Otherwise
the observed digest is printed and kept next to the file as ``<name>.sha256`` (``sha256sum`` format), so
a later download of a different file is noticed (it says so). Each download streams into ``<name>.bin.part`` and is
renamed only when complete and sane, so an interrupted download never leaves a file that looks
finished. A file already on disk is skipped when its size equals the server's Content-Length.

"Looks like a model": at least :data:`MIN_BIN_BYTES` bytes (the smallest published classifier is
megabytes; an error page is kilobytes), the size the server announced, and not text/HTML/JSON
(servers and captive portals answer with an HTML page and status 200). The ``.bin`` format is
the vendor's and undocumented, so we do not check a magic number.

Standard library only (urllib); board-safe.
"""
from __future__ import annotations

import http.client
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import List, Optional, Tuple

import hashlib

from helpers.board import registry
from helpers.errors import HelpersError
from helpers.board.files import rel_to_repo

MIN_BIN_BYTES = 100 * 1024
CHUNK = 1 << 16
USER_AGENT = "rdk-mobile-classification-downloader"
_TEXT_STARTS = (b"<", b"{", b"[")


def bin_path(key: str, board: str) -> Path:
    """Where the published ``.bin`` of ``key`` for ``board`` goes: ``model/<Arch>/rdk_<board>/<name>.bin``."""
    path = registry.get(key).published_bin_path(board)
    if path is None:
        b = registry.board(board)
        raise HelpersError(f"the model zoo publishes no {b.name} {b.suffix} for {key}; "
                           f"build one with {b.compiler} (python -m helpers bundle {key} --board {b.key})")
    return path


def targets(key: Optional[str] = None, arch: Optional[str] = None,
            board: Optional[str] = None) -> List[Tuple[str, registry.Published, Path]]:
    """(key, published entry, destination) for every published .bin matching the filters."""
    if board is not None:
        registry.board(board)
    keys = [registry.get(key).key] if key else registry.keys(arch)
    out = []
    for k in keys:
        spec = registry.get(k)
        if arch and spec.arch != arch:
            raise HelpersError(f"{k} is a {spec.arch} model, not {arch}")
        for pub in spec.published:
            if board in (None, pub.board):
                out.append((k, pub, spec.published_bin_path(pub.board)))
    if not out:
        what = key or arch or "any model"
        raise HelpersError(f"the model zoo publishes no model file for {what}"
                           + (f" on {registry.BOARDS[board].name}" if board else "")
                           + "; see python -m helpers list")
    return out


def not_a_model_reason(path, min_bytes: int = MIN_BIN_BYTES, expected: Optional[int] = None) -> Optional[str]:
    """Why ``path`` does not look like a downloaded model, or None if it does."""
    path = Path(path)
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size == 0:
        return "empty (0 bytes)"
    with open(path, "rb") as fh:
        head = fh.read(1024)
    lowered = head.lower()
    if head.lstrip().startswith(_TEXT_STARTS) or b"<html" in lowered or b"<!doctype" in lowered:
        return "a text/HTML page, not a model (an error or login page?)"
    if expected is not None and size != expected:
        return f"{size} bytes but the server announced {expected} (incomplete)"
    if size < min_bytes:
        return f"only {size} bytes (a model is at least {min_bytes})"
    return None


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digest_path(dest) -> Path:
    """``<name>.sha256`` next to a downloaded file: the digest observed when it was downloaded."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".sha256")


def verify_digest(path, expected: Optional[str], url: str = "") -> str:
    """Check ``path`` against the manifest's ``expected`` SHA-256 (if any) and against the digest kept at its
    download; returns a status phrase. A mismatch with the manifest raises HelpersError."""
    observed = sha256_of(path)
    if expected:
        if observed != expected.lower():
            raise HelpersError(f"{Path(path).name}: SHA-256 {observed} differs from the manifest's {expected.lower()}; "
                               f"not kept - download it again, and if it persists the file at {url or 'the URL'} "
                               "changed: report it")
        return f"sha256 {observed} (verified against the manifest)"
    kept = digest_path(path)
    before = kept.read_text(encoding="utf-8").split()[0] if kept.is_file() and kept.stat().st_size else None
    kept.write_text(f"{observed}  {Path(path).name}\n", encoding="utf-8")
    if before and before != observed:
        return (f"sha256 {observed} - DIFFERENT from the {before[:12]}... kept at the last download "
                "(the published file changed?); the manifest records none")
    return f"sha256 {observed} (the manifest records none; kept in {kept.name})"


def _offline_error(url: str, dest: Path, reason) -> HelpersError:
    host = urllib.request.urlparse(url).netloc or url
    return HelpersError(f"cannot reach {host} ({reason}); are you offline? Download {url} "
                        f"by hand into {rel_to_repo(dest.parent)}/")


def download_file(url: str, dest, min_bytes: int = MIN_BIN_BYTES, timeout: float = 30.0,
                  progress: bool = True, sha256: Optional[str] = None) -> str:
    """Fetch ``url`` into ``dest`` atomically (``dest.part`` then rename), verified by :func:`verify_digest`.

    Returns "downloaded", "complete" (already there with the announced size) or
    "kept (offline...)" when the server is unreachable but a sane file exists, each followed by the digest.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        raise HelpersError(f"{url} answered HTTP {e.code} ({e.reason}); the file may have moved - "
                           "check the model zoo README") from None
    except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        if dest.is_file() and not_a_model_reason(dest, min_bytes) is None:
            if sha256 and sha256_of(dest) != sha256.lower():
                bad = _move_aside(dest)
                raise HelpersError(f"{dest.name} fails the manifest's SHA-256 and the server is unreachable "
                                   f"({reason}); moved it to {bad.name} - run the download again when online")
            return f"kept (offline: size not checked against the server), {verify_digest(dest, sha256, url)}"
        raise _offline_error(url, dest, reason) from None
    with resp:
        ctype = (resp.headers.get("Content-Type") or "").lower()
        length = resp.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        if "text/html" in ctype or "application/json" in ctype:
            raise HelpersError(f"{url} returned a {ctype.split(';')[0]} page instead of a model; "
                               "the link may have moved - check the model zoo README")
        aside = ""
        if dest.is_file() and expected is not None and dest.stat().st_size == expected \
                and not_a_model_reason(dest, min_bytes, expected) is None:
            if not sha256 or sha256_of(dest) == sha256.lower():
                return f"complete, {verify_digest(dest, sha256, url)}"
            aside = f"{_move_aside(dest).name} (its SHA-256 differed from the manifest's), "
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(part, "wb") as fh, tqdm(total=expected, unit="B", unit_scale=True, desc=dest.name,
                                              disable=not progress, leave=False) as bar:
                while True:
                    try:
                        chunk = resp.read(CHUNK)
                    except (socket.timeout, ConnectionError, OSError, http.client.HTTPException) as e:
                        raise _offline_error(url, dest, f"connection lost: {type(e).__name__}") from None
                    if not chunk:
                        break
                    fh.write(chunk)
                    bar.update(len(chunk))
            reason = not_a_model_reason(part, min_bytes, expected)
            if reason:
                raise HelpersError(f"{url} gave a file that is {reason}; nothing written to {rel_to_repo(dest)}")
            if sha256:  # before the rename: a mismatching file never takes the model's name
                verify_digest(part, sha256, url)
            os.replace(part, dest)
        finally:
            if part.exists():
                part.unlink()
    return f"downloaded, {'replacing ' + aside if aside else ''}{verify_digest(dest, sha256, url)}"


def _move_aside(dest: Path) -> Path:
    """Rename a file that fails the manifest's SHA-256 to ``<name>.mismatch`` (replacing an older one), so that
    the model's name is free for a fresh download and a re-run does not meet the same file again."""
    bad = dest.with_name(dest.name + ".mismatch")
    os.replace(dest, bad)
    return bad


def download(key: Optional[str] = None, arch: Optional[str] = None, board: Optional[str] = None,
             dry_run: bool = False, timeout: float = 30.0, progress: bool = True) -> List[Tuple[Path, str]]:
    """Download every published file matching the filters; returns (path, status) per file."""
    results = []
    for k, pub, dest in targets(key, arch, board):
        if dry_run:
            status = "present" if dest.is_file() else "missing"
            results.append((dest, f"would fetch {pub.bin_url} ({status})"))
            continue
        results.append((dest, download_file(pub.bin_url, dest, timeout=timeout, progress=progress, sha256=pub.sha256)))
    return results


def wrapper_text(arch: str) -> str:
    """``model/<Arch>/download.sh``: a three-line wrapper of ``python -m helpers download --arch ARCH`` whose
    comment lists the boards the zoo publishes files of ``arch`` for (from the registry; written and checked
    by ``python -m helpers readme``)."""
    pubs = [p for k in registry.keys(arch) for p in registry.get(k).published]
    boards = [b for b in registry.BOARDS if any(p.board == b for p in pubs)]
    suffixes = " / ".join(dict.fromkeys(registry.BOARDS[b].suffix for b in boards))
    folders = ", ".join(f"{registry.BOARD_DIR[b]}/" for b in boards)
    return ("#!/bin/sh\n"
            f"# Download the RDK Model Zoo's published {suffixes} files for {arch} into {folders} beside this script, "
            f"by board (options: --board {'|'.join(boards)}, --dry-run). Generated: python -m helpers readme.\n"
            f'cd "$(dirname "$0")/../.." && exec "${{PYTHON:-python3}}" -m helpers download --arch {arch} "$@"\n')


def wrapper_path(arch: str) -> Path:
    """The committed wrapper (in the repository's ``model/``, whatever ``RDK_MODEL_DIR`` says)."""
    from helpers.board.files import REPO_ROOT

    return REPO_ROOT / "model" / arch / "download.sh"


def stale_wrappers() -> List[Path]:
    """The ``download.sh`` wrappers that differ from :func:`wrapper_text`."""
    return [wrapper_path(a) for a in registry.ARCHS
            if not wrapper_path(a).is_file() or wrapper_path(a).read_text(encoding="utf-8") != wrapper_text(a)]


def write_wrappers() -> List[Path]:
    """Rewrite the stale ``download.sh`` wrappers (executable); returns them."""
    written = stale_wrappers()
    for path in written:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wrapper_text(path.parent.name), encoding="utf-8")
        path.chmod(0o755)
    return written


def cmd_download(args) -> int:
    if args.key and args.arch:
        raise HelpersError("give a model KEY or --arch ARCH, not both")
    from helpers.board.checks import in_range

    in_range("--timeout", args.timeout, 0, 3600, lo_open=True, hint="seconds")
    for path, status in download(args.key, args.arch, args.board, dry_run=args.dry_run, timeout=args.timeout):
        print(f"{rel_to_repo(path)}: {status}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("download", help="download the .bin / .hbm files the RDK Model Zoo publishes into "
                                        "model/<Arch>/rdk_<board>/ (SHA-256 checked or printed)")
    p.add_argument("key", nargs="?", help="registry key (default: every published file)")
    p.add_argument("--arch", choices=list(registry.ARCHS), help="only this architecture")
    p.add_argument("--board", choices=list(registry.BOARDS), help="only this board")
    p.add_argument("--dry-run", action="store_true", help="show what would be fetched, without the network")
    p.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds (default 30)")
    p.set_defaults(func=cmd_download)
