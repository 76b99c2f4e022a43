"""``python -m helpers yaml`` and ``check-yaml``: the command line of :mod:`helpers.pc.mapper`."""
from __future__ import annotations

from helpers.board import nv12, registry
from helpers.board.files import rel_to_repo
from helpers.errors import HelpersError, one_line
from helpers.pc.mapper import all_yaml_targets, check_config, regenerate


def cmd_yaml(args) -> int:
    if args.all:
        if args.key or args.out:
            raise HelpersError("--all regenerates every yaml in yaml/; do not give KEY or --out with it")
        targets = [(k, b) for k, b in all_yaml_targets() if args.board in (None, b)]
    else:
        if not args.key:
            raise HelpersError("give a model KEY (python -m helpers list) or --all")
        spec = registry.get(args.key)
        boards = [args.board] if args.board else list(spec.boards)
        if args.out and len(boards) > 1:
            raise HelpersError("--out names one file; give --board x3 or --board x5 too")
        targets = [(args.key, b) for b in boards]
    for k, b in targets:
        path, status = regenerate(k, b, args.out, overwrite=args.overwrite, yuv_range=args.yuv_range)
        print(f"{status:9s} {rel_to_repo(path)}")
    return 0


def cmd_check_yaml(args) -> int:
    errors = 0
    for f in args.files:
        findings = check_config(f, strict=args.strict)
        for x in findings:  # one bounded line each, whatever value the file holds
            print(one_line(f"{x.level}: {f}: {x.message}", 600))
        n_err = sum(x.level == "error" for x in findings)
        n_warn = len(findings) - n_err
        errors += n_err
        print(f"{f}: {'OK' if not n_err else 'FAILED'} ({n_err} error(s), {n_warn} warning(s))")
    return 1 if errors else 0


def register(sub) -> None:
    p = sub.add_parser("yaml", help="generate the mapper yaml(s) from the registry")
    p.add_argument("key", nargs="?", help="registry key (python -m helpers list)")
    p.add_argument("--board", choices=list(registry.BOARDS), help="x3 (bernoulli2) or x5 (bayes-e); default both")
    p.add_argument("--all", action="store_true", help="regenerate every yaml/<Arch>/<key>_<board>.yaml")
    p.add_argument("--out", help="write here instead of yaml/<Arch>/<key>_<board>.yaml (paths stay relative)")
    p.add_argument("--yuv-range", choices=list(nv12.RANGES), default=nv12.DEFAULT_RANGE,
                   help="NV12 range the .bin expects: full (regular, default) or limited (bt601_video)")
    p.add_argument("--overwrite", action="store_true", help="replace a file this command did not generate")
    p.set_defaults(func=cmd_yaml)
    p = sub.add_parser("check-yaml", help="check mapper yaml file(s): keys, march, mean/scale, paths")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--strict", action="store_true",
                   help="missing onnx / calibration data are errors (use right before running the mapper)")
    p.set_defaults(func=cmd_check_yaml)
