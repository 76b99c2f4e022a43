"""helpers.board.identity: the board a machine names, from fake /sys and /proc trees.

The strings are the vendor's: D-Robotics/rdk_model_zoo platforms/registry.json ("targets": soc_names,
board_types with base_soc s100, socinfo_names, device_tree_models) read in the order of
samples/_shared/platforms.py (boardinfo soc_name, then socinfo, then the device tree)."""
import pytest

from helpers.board import identity, registry, runtime


def tree(tmp_path, **files):
    paths = {"soc": identity.SOC_NAME, "kind": identity.BOARD_TYPE, "socinfo": identity.SOCINFO_NAME,
             "dt": identity.DEVICE_TREE_MODEL}
    for name, text in files.items():
        p = tmp_path / paths[name]
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.encode() + b"\x00")
    return tmp_path


@pytest.mark.parametrize("files,want", [
    ({"soc": "s100"}, "s100"),
    ({"soc": "S100\n", "kind": "RDK S100P"}, "s100p"),
    ({"soc": "s100", "kind": "s100p"}, "s100p"),
    ({"soc": "s100p"}, "s100p"),
    ({"soc": "s600"}, "s600"),
    ({"soc": "s100", "kind": "something else"}, "s100"),
    ({"socinfo": "x5u"}, "x5"),
    ({"dt": "D-Robotics RDK X5 V1.0"}, "x5"),
    ({"dt": "Horizon RDK X3"}, "x3"),
    ({"soc": "s100", "dt": "D-Robotics RDK X5 V1.0"}, "s100"),  # boardinfo wins, as in the vendor's order
    ({"soc": "x9000"}, None),
    ({}, None),
])
def test_identify(tmp_path, files, want):
    b = identity.board_here(tree(tmp_path, **files))
    assert (b.key if b else None) == want


def test_describe_names_what_it_read(tmp_path):
    line = identity.identify(tree(tmp_path, soc="s100", kind="rdk s100p")).describe()
    assert line.startswith("RDK S100P (march nash-m)") and "board_type='rdk s100p'" in line
    assert "a PC" in identity.identify(tmp_path / "pc").describe()
    assert identity.device_model(tree(tmp_path / "s", soc="s600")) == "RDK S600"


def test_runtime_and_doctor_use_it(monkeypatch, tmp_path):
    """The one reader: runtime.board_key_here (and through it doctor / the notebooks) asks identity."""
    from helpers.board import registry

    monkeypatch.setattr(identity, "board_here", lambda root="/": registry.board("s600"))
    assert runtime.board_key_here() == "s600"


@pytest.mark.parametrize("path", ["model/MobileNetV4/rdk_s600/mobilenetv4_small_224x224_nv12.hbm",
                                  "samples/vision/mobilenetv4/model/s600/mobilenetv4_small_224x224_nv12.hbm"])
def test_an_s600_hbm_on_an_s100_is_one_line_naming_the_fix(monkeypatch, path):
    """The check every board backend runs before loading (runtime._check_bin_board): the folder names the
    board a file was compiled for, identity names this one."""
    from pathlib import Path

    from helpers.errors import HelpersError

    monkeypatch.setattr(identity, "board_here", lambda: registry.BOARDS["s100"])
    with pytest.raises(HelpersError, match=r"RDK S600 build \(nash-p\) but this is an RDK S100 \(nash-e\): "
                                           r"use the file under rdk_s100/ \(python -m helpers download --board s100\)") as e:
        runtime._check_bin_board(Path(path), "hbm_runtime")
    assert "\n" not in str(e.value)
    runtime._check_bin_board(Path(path.replace("s600", "s100")), "hbm_runtime")  # the right file passes


def test_one_module_reads_the_identity_files():
    """No other module opens /proc/device-tree/model or /sys/class/{boardinfo,socinfo} (string literals)."""
    import re
    from pathlib import Path

    import helpers

    pattern = re.compile(r"""["'][^"'\n]*(proc/device-tree|sys/class/(boardinfo|socinfo))""")
    root = Path(helpers.__file__).parent
    readers = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if pattern.search(p.read_text(encoding="utf-8")))
    assert readers == ["board/identity.py"]
