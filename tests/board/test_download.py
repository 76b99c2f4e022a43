"""The .bin downloader against a local HTTP server (never the real network)."""
import http.server
import os
import socket
import stat
import threading
from pathlib import Path

import pytest

from helpers.board import download, files, registry
from helpers.cli import main
from helpers.errors import HelpersError
from helpers.board.files import MODEL_DIR

SIZE = 200 * 1024


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/short/"):      # announces more bytes than it sends (connection dropped)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(SIZE))
            self.end_headers()
            self.wfile.write(b"\x01" * (SIZE // 2))
            return
        if self.path.startswith("/login"):       # a captive portal: 200 with an HTML page
            body = b"<!DOCTYPE html><html><body>Please log in</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    # random bytes, but never starting like text: os.urandom alone begins with "<", "{" or "[" 3 times in 256
    (root / "good.bin").write_bytes(b"\x00" + os.urandom(SIZE - 1))
    (root / "page.bin").write_bytes(b"<html><head><title>404</title></head>" + b" " * SIZE)
    (root / "tiny.bin").write_bytes(b"\x00\x01" * 100)

    def handler(*a, **k):
        return Handler(*a, directory=str(root), **k)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_download_then_skip_complete(server, tmp_path):
    url, root = server
    dest = tmp_path / "model" / "good.bin"
    assert download.download_file(f"{url}/good.bin", dest, progress=False).startswith("downloaded, sha256 ")
    assert dest.read_bytes() == (root / "good.bin").read_bytes()
    assert not dest.with_name("good.bin.part").exists()
    mtime = dest.stat().st_mtime_ns
    assert download.download_file(f"{url}/good.bin", dest, progress=False).startswith("complete, sha256 ")
    assert dest.stat().st_mtime_ns == mtime
    # a truncated local copy is replaced
    dest.write_bytes(dest.read_bytes()[:1000])
    assert download.download_file(f"{url}/good.bin", dest, progress=False).startswith("downloaded")
    assert dest.stat().st_size == SIZE


@pytest.mark.parametrize("path,needle", [
    ("page.bin", "HTML"),            # an HTML error page served as application/octet-stream
    ("login", "text/html"),          # HTML announced by Content-Type
    ("tiny.bin", "only 200 bytes"),  # too small to be a model
    ("short/x.bin", "incomplete"),   # connection dropped before Content-Length bytes
])
def test_not_a_model_is_rejected_and_nothing_left(server, tmp_path, path, needle):
    url, _ = server
    dest = tmp_path / "m" / "x.bin"
    with pytest.raises(HelpersError, match=needle) as e:
        download.download_file(f"{url}/{path}", dest, progress=False, timeout=5)
    assert "\n" not in str(e.value)
    assert not dest.exists() and not dest.with_name("x.bin.part").exists()


def test_http_error(server, tmp_path):
    url, _ = server
    with pytest.raises(HelpersError, match="HTTP 404"):
        download.download_file(f"{url}/missing.bin", tmp_path / "x.bin", progress=False)


def test_offline_is_one_clear_line(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/rdk_x5/m.bin"
    dest = tmp_path / "m.bin"
    with pytest.raises(HelpersError, match="are you offline") as e:
        download.download_file(url, dest, progress=False, timeout=2)
    assert "\n" not in str(e.value) and url in str(e.value)
    assert not dest.exists() and not dest.with_name("m.bin.part").exists()
    # a sane file already on disk is kept, said plainly
    dest.write_bytes(b"\x00" + os.urandom(SIZE - 1))  # never starting like text (see the server fixture)
    assert download.download_file(url, dest, progress=False, timeout=2).startswith("kept (offline")


def test_offline_via_cli(monkeypatch, capsys):
    import urllib.request

    def refuse(*a, **k):
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(files, "MODEL_DIR", Path("/nonexistent-model-dir"))
    assert main(["download", "mobilenetv4_conv_small"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot reach archive.d-robotics.cc")


def test_sanity_check_function(tmp_path):
    p = tmp_path / "f.bin"
    assert download.not_a_model_reason(p) == "missing"
    p.write_bytes(b"")
    assert "empty" in download.not_a_model_reason(p)
    p.write_bytes(b"  \n<!doctype html>" + os.urandom(SIZE))
    assert "HTML" in download.not_a_model_reason(p)
    p.write_bytes(b'{"error": "not found"}' + b" " * SIZE)
    assert "text" in download.not_a_model_reason(p)
    p.write_bytes(os.urandom(SIZE))
    assert download.not_a_model_reason(p) is None
    assert "incomplete" in download.not_a_model_reason(p, expected=SIZE + 1)


def test_targets_follow_the_registry():
    want = {(k, p.board, p.bin_url) for k, m in registry.MODELS.items() for p in m.published}
    got = {(k, p.board, p.bin_url) for k, p, _ in download.targets()}
    assert got == want and len(want) >= 5
    for k, p, dest in download.targets():
        assert dest == MODEL_DIR / registry.get(k).arch / f"rdk_{p.board}" / p.bin_url.rsplit("/", 1)[-1]
    assert len({dest for _, _, dest in download.targets()}) == len(want) == 20  # no two files on one path
    assert {p.board for _, p, _ in download.targets(board="s600")} == {"s600"}
    assert all(dest.suffix == ".hbm" for _, _, dest in download.targets(board="s100"))
    assert {p.board for _, p, _ in download.targets(board="x3")} == {"x3"}
    assert {k for k, _, _ in download.targets(arch="MobileNetV4")} == {"mobilenetv4_conv_small", "mobilenetv4_conv_medium"}
    with pytest.raises(HelpersError, match="publishes no"):
        download.targets("mobileone_s3", board="x3")
    with pytest.raises(HelpersError, match="unknown board"):
        download.targets(board="x9")
    with pytest.raises(HelpersError, match="publishes no"):
        download.bin_path("mobilenetv3_large_100", "x3")
    with pytest.raises(HelpersError, match=r"publishes no RDK S100P \.hbm .*hb_compile .*--board s100p"):
        download.bin_path("mobilenetv4_conv_small", "s100p")


def test_cli_dry_run_needs_no_network(capsys, monkeypatch):
    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("network used in a dry run"))
    assert main(["download", "--arch", "MobileNetV4", "--dry-run"]) == 0
    out = capsys.readouterr().out
    # conv_small on X3, X5, S100, S600; conv_medium on X5, S100, S600
    assert out.count("would fetch https://archive.d-robotics.cc/") == 7
    assert "model/MobileNetV4/rdk_s100/mobilenetv4_medium_256x256_nv12.hbm" in out
    assert "model/MobileNetV4/rdk_x3/MobileNetV4_224x224_nv12.bin" in out
    assert main(["download", "mobileone_s0", "--arch", "MobileOne"]) == 2


@pytest.mark.parametrize("arch", registry.ARCHS)
def test_download_sh_wrappers(arch):
    sh = MODEL_DIR / arch / "download.sh"
    text = sh.read_text()
    assert text.startswith("#!/bin/sh") and len(text.strip().splitlines()) == 3
    assert f"-m helpers download --arch {arch} " in text
    assert text == download.wrapper_text(arch)  # generated: python -m helpers readme
    boards = {p.board for k in registry.keys(arch) for p in registry.get(k).published}
    listed = text.split("--board ", 1)[1].split(",", 1)[0].split("|")
    assert sorted(listed) == sorted(boards)
    assert sh.stat().st_mode & stat.S_IXUSR


# ---------------------------------------------------------------- SHA-256: verified where recorded, kept otherwise

def test_sha256_verified_against_the_manifest(server, tmp_path):
    import hashlib

    url, root = server
    want = hashlib.sha256((root / "good.bin").read_bytes()).hexdigest()
    dest = tmp_path / "rdk_s100" / "good.hbm"
    status = download.download_file(f"{url}/good.bin", dest, progress=False, sha256=want.upper())
    assert status == f"downloaded, sha256 {want} (verified against the manifest)"
    assert not download.digest_path(dest).exists()  # nothing to keep: the manifest has it
    # a wrong digest: one line, and no file with the model's name (nor a .part)
    bad = tmp_path / "other" / "good.hbm"
    with pytest.raises(HelpersError, match="differs from the manifest's") as e:
        download.download_file(f"{url}/good.bin", bad, progress=False, sha256="0" * 64)
    assert "\n" not in str(e.value)
    assert not bad.exists() and not bad.with_name("good.hbm.part").exists()
    # a complete file already there is checked too
    with pytest.raises(HelpersError, match="SHA-256"):
        download.download_file(f"{url}/good.bin", dest, progress=False, sha256="1" * 64)


def test_sha256_printed_and_kept_when_the_manifest_has_none(server, tmp_path):
    import hashlib

    url, root = server
    dest = tmp_path / "m" / "good.bin"
    status = download.download_file(f"{url}/good.bin", dest, progress=False)
    digest = hashlib.sha256((root / "good.bin").read_bytes()).hexdigest()
    assert status == f"downloaded, sha256 {digest} (the manifest records none; kept in good.bin.sha256)"
    assert download.digest_path(dest).read_text() == f"{digest}  good.bin\n"
    # the server's file changes: the next download says so
    (root / "good.bin").write_bytes(b"\x00" + os.urandom(SIZE - 1))
    dest.unlink()
    assert "DIFFERENT from the" in download.download_file(f"{url}/good.bin", dest, progress=False)


def test_download_command_fetches_an_hbm_into_the_board_folder(server, tmp_path, monkeypatch, capsys):
    """download --board s100: the published .hbm lands in model/<Arch>/rdk_s100/, digest printed (local server)."""
    import dataclasses

    url, root = server
    spec = registry.get("mobilenetv4_conv_small")
    pub = spec.published_for("s100")
    (root / pub.bin_name).write_bytes((root / "good.bin").read_bytes())
    local = dataclasses.replace(pub, bin_url=f"{url}/{pub.bin_name}")
    monkeypatch.setitem(registry.MODELS, spec.key, dataclasses.replace(
        spec, published=tuple(local if p is pub else p for p in spec.published)))
    monkeypatch.setattr(files, "MODEL_DIR", tmp_path / "model")
    assert main(["download", spec.key, "--board", "s100"]) == 0
    out = capsys.readouterr().out
    dest = tmp_path / "model" / "MobileNetV4" / "rdk_s100" / "mobilenetv4_small_224x224_nv12.hbm"
    assert dest.read_bytes() == (root / "good.bin").read_bytes()
    assert "rdk_s100/mobilenetv4_small_224x224_nv12.hbm: downloaded, sha256 " in out and "records none" in out


def test_a_same_size_file_failing_the_manifests_sha256_is_moved_aside_and_fetched_again(server, tmp_path):
    import hashlib

    url, root = server
    want = hashlib.sha256((root / "good.bin").read_bytes()).hexdigest()
    dest = tmp_path / "rdk_s100" / "good.hbm"
    dest.parent.mkdir()
    damaged = b"\x00" + os.urandom(SIZE - 1)  # same size as the server's, other bytes
    dest.write_bytes(damaged)
    status = download.download_file(f"{url}/good.bin", dest, progress=False, sha256=want)
    assert status.startswith("downloaded, replacing good.hbm.mismatch") and "verified against the manifest" in status
    assert dest.read_bytes() == (root / "good.bin").read_bytes()
    assert dest.with_name("good.hbm.mismatch").read_bytes() == damaged
    # the next run finds a good file
    assert download.download_file(f"{url}/good.bin", dest, progress=False, sha256=want).startswith("complete, ")
    # offline with a mismatching file: moved aside too, one line
    dest.write_bytes(damaged)
    with pytest.raises(HelpersError, match="moved it to good.hbm.mismatch") as e:
        download.download_file(f"http://127.0.0.1:{closed_port()}/good.bin", dest, progress=False, sha256=want,
                               timeout=2)
    assert "\n" not in str(e.value) and not dest.exists()
