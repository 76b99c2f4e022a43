"""Record the names the vendor's runtime binaries expose, for the fake-surface test.

    python tests/fake_board/record_vendor_surface.py            # writes tests/fake_board/vendor_surface.json

Downloads the wheels with ``pip download --no-deps`` (they are aarch64 builds and cannot run here), reads
the identifier-like strings of their compiled modules (what ``strings`` shows: attribute, method, enum and
class names, error messages' words) and writes them, with each wheel's name, version and sha256, into the
committed data file. ``tests/board/test_fake_surface.py`` fails when a fake in ``tests/fake_board`` offers
a name the record lacks. A wheel the index does not have is recorded as missing (``bpu_infer_lib_x5`` is
on the vendor's index only, http://sdk.d-robotics.cc:8080/simple/, not on PyPI).
"""
import ast
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEELS = {  # pip name -> the module whose binary we read
    "bpu_infer_lib_x3": "bpu_infer_lib",
    "bpu_infer_lib_x5": "bpu_infer_lib",
    "hobot-dnn-rdkx5": "hobot_dnn_rdkx5.pyeasy_dnn",
    "hbm-runtime": "hbm_runtime.HB_HBMRuntime",
    "hobot-vio-rdkx5": "hobot_vio_rdkx5.libsrcampy",   # the X5 camera API (pure-Python wheel around .so files)
}
#: pip download flags per wheel (default: any aarch64 Linux wheel for CPython 3.10); hbm-runtime is published
#: only as cp310 manylinux_2_34_aarch64 and needs the interpreter and ABI stated
PLATFORM = {"hbm-runtime": ["--platform", "manylinux_2_34_aarch64", "--implementation", "cp", "--abi", "cp310"]}
DEFAULT_PLATFORM = ["--platform", "manylinux2014_aarch64", "--platform", "linux_aarch64"]
#: pinned versions: the record is of these (a newer release is recorded on purpose, by changing the pin)
PINS = {"hbm-runtime": "hbm-runtime==0.1.0.post1"}
OUT = Path(__file__).with_name("vendor_surface.json")
_IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]{1,63}")
#: linker, C-API and mangled symbols: never Python-visible names
_SKIP = ("_Z", "Py", "_Py", "GLIBC", "GCC_", "CXXABI", "__", "hbDNN", "hbSys", "_ITM", "_ARRAY", "DW_")


def names_in(blob: bytes) -> list:
    found = set()
    for run in re.findall(rb"[\x20-\x7e]{3,}", blob):
        for m in _IDENT.findall(run):
            s = m.decode("ascii")
            if not s.startswith(_SKIP):
                found.add(s)
    return sorted(found)


def stub_surface(text: str) -> dict:
    """class -> sorted public names (attributes, properties, methods) of a ``.pyi`` stub, read with ``ast``."""
    out = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.ClassDef):
            names = set()
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    names.add(item.target.id)
            out[node.name] = sorted(n for n in names if not n.startswith("_"))
    return out


def record(pip_name: str, module: str, folder: Path) -> dict:
    r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        *PLATFORM.get(pip_name, DEFAULT_PLATFORM), "--python-version", "3.10",
                        PINS.get(pip_name, pip_name), "-d", str(folder)], capture_output=True, text=True)
    wheels = sorted(folder.glob(pip_name.replace("-", "_") + "-*.whl"))
    if r.returncode != 0 or not wheels:
        return {"missing": (r.stderr.strip().splitlines() or ["not found"])[-1]}
    whl = wheels[-1]
    stem = module.replace(".", "/")
    with zipfile.ZipFile(whl) as z:
        so = [n for n in z.namelist() if n.startswith(stem) and n.endswith(".so")]
        blob = b"".join(z.read(n) for n in so)
        stubs = [n for n in z.namelist() if n.startswith(stem) and n.endswith(".pyi")]
        init = [n for n in z.namelist() if n == stem.split("/")[0] + "/__init__.py"]
        entry = {"wheel": whl.name, "sha256": hashlib.sha256(whl.read_bytes()).hexdigest(), "module": module,
                 "binaries": so, "names": names_in(blob)}
        if stubs:  # a typed wheel: its stub is the record of the Python surface, class by class
            entry["stub"] = stubs[0]
            entry["classes"] = stub_surface(z.read(stubs[0]).decode("utf-8"))
        if init:  # what the package exports, and the words of the errors its __init__ raises
            tree = ast.parse(z.read(init[0]).decode("utf-8"))
            entry["exports"] = next(ast.literal_eval(n.value) for n in ast.walk(tree)
                                      if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "__all__"
                                                                         for t in n.targets))
            entry["init_strings"] = sorted({n.value for n in ast.walk(tree)
                                            if isinstance(n, ast.Constant) and isinstance(n.value, str)})
    return entry


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        data = {"what": "identifier strings of the vendor wheels' compiled modules (tests/fake_board/"
                        "record_vendor_surface.py); the fakes may offer only these names",
                "wheels": {p: record(p, m, Path(tmp)) for p, m in WHEELS.items()}}
    OUT.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    for p, w in data["wheels"].items():
        print(f"{p}: {w.get('wheel', 'missing: ' + w.get('missing', ''))} ({len(w.get('names', []))} names)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
