"""The command line: ``optiframe run``, ``optiframe sweep``, ``optiframe demo``,
``optiframe list``, ``optiframe plugins``."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from ._table import format_table
from .errors import InvalidArgumentError, OptiframeError
from .plugins import get_registry, plugin_infos
from .registry import KINDS


def _components_by_plugin() -> dict[str, list[str]]:
    by_plugin: dict[str, list[str]] = {}
    for entry in get_registry().entries():
        by_plugin.setdefault(entry.plugin, []).append(f"{entry.kind}:{entry.name}")
    return by_plugin


def cmd_plugins(args: argparse.Namespace) -> int:
    components = _components_by_plugin()
    infos = [i for i in plugin_infos() if args.all or not i.builtin]
    conflicts = get_registry().conflicts()
    if args.json:
        print(json.dumps([
            {"name": i.name, "module": i.module, "distribution": i.distribution,
             "version": i.version, "builtin": i.builtin, "hooks": list(i.hooks),
             "components": components.get(i.name, []),
             "conflicts": [e.qualified_name for claims in conflicts
                           for e in claims if e.plugin == i.name]}
            for i in infos
        ], indent=2))
        return 0
    if not infos:
        print("No third-party plugins installed. `optiframe plugins --all` shows the built-ins.")
        return 0
    rows = [
        (i.name, "built-in" if i.builtin else f"{i.distribution} {i.version}",
         ", ".join(i.hooks), ", ".join(components.get(i.name, [])) or "-")
        for i in infos
    ]
    print(format_table(["plugin", "distribution", "hooks", "components"], rows))
    _print_conflicts(conflicts)
    return 0


def _print_conflicts(conflicts: list[Any]) -> None:
    """The names two distributions claim: an error where used unqualified."""
    if not conflicts:
        return
    print("\nNames claimed by more than one distribution (use a qualified name):")
    for claims in conflicts:
        print(f"  {claims[0].kind} {claims[0].name!r}: "
              f"{' or '.join(repr(e.qualified_name) for e in claims)}")


def cmd_list(args: argparse.Namespace) -> int:
    registry = get_registry()
    entries = list(registry.entries(args.kind))
    if args.json:
        print(json.dumps([
            {"kind": e.kind, "name": e.name, "plugin": e.plugin, "description": e.description,
             "parameters": e.parameters_text()}
            for e in entries
        ], indent=2))
        return 0
    claimed = {(c[0].kind, c[0].name) for c in registry.conflicts()}
    rows = [(e.kind, e.qualified_name if (e.kind, e.name) in claimed else e.name, e.plugin,
             e.description, e.parameters_text()) for e in entries]
    print(format_table(["kind", "name", "plugin", "description", "parameters"], rows))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from .config import (
        ConfigError,
        build_run,
        check_results_folder,
        load_config,
        resolved,
        to_toml,
        write_results,
    )

    config = resolved(load_config(args.config, args.set))
    runner, run_args = build_run(config, Path(args.config))  # every check, before any work
    if args.print_config:
        print(to_toml(config), end="")
        return 0
    folder = Path(config["output"]["folder"])
    if args.resume:
        saved = folder / "checkpoint"
        if not (saved / "checkpoint.json").is_file():
            raise ConfigError(f"{args.config}: no checkpoint in {str(saved)!r} to resume; run "
                              "without --resume, with output.checkpoint_every set")
        result = runner.resume(saved)
    else:
        if (folder.exists() or folder.is_symlink()) and not args.force:
            raise ConfigError(f"{args.config}: the results folder {str(folder)!r} exists; "
                              "pass --force to overwrite it, --resume to go on from its "
                              "checkpoint, or set output.folder")
        check_results_folder(folder, args.force, str(args.config))
        try:
            result = runner.run(**run_args)
        except InvalidArgumentError as exc:  # refused before any work: name file and key
            raise ConfigError(f"{args.config}: {_config_key(str(exc))}{exc}") from None
        except KeyboardInterrupt as stop:
            result = getattr(stop, "result", None)
            if result is None:
                raise
            folder, written = write_results(result, folder, config, runner.objective)
            print(f"{result.status}: {result.message}", file=sys.stderr)
            print(f"results in {folder}/ ({', '.join(written)})", file=sys.stderr)
            return 130
    folder, written = write_results(result, folder, config, runner.objective)
    print(f"{result.status}: {result.message}")
    x = result.x
    shown = (str(x.tolist()) if x.size <= 12 else  # a 1210-parameter MLP: a glimpse
             np.array2string(x.reshape(-1), threshold=12, edgeitems=3, precision=6)
             + f" ({x.size} numbers; all of them in summary.json)")
    print(f"x = {shown}\nfun = {result.fun!r}\nsteps = {result.nit}, evaluations = "
          f"{result.nfev}")
    print(f"results in {folder}/ ({', '.join(written)})")
    return 1 if str(result.status) == "failed" else 0


def _config_key(message: str) -> str:
    """The config key a run's refusal is about ("start.x0: "), or "" when it names none."""
    if re.match(r"'?x0'? ", message):
        return "start.x0: "
    if message.startswith("gradient"):
        return "gradient.name: "
    return ""


def cmd_sweep(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .config import ConfigError, check_results_folder, load_config, resolved
    from .sweep_config import run_sweep, write_table

    config = resolved(load_config(args.config, args.set))
    folder = Path(config["output"]["folder"])
    if (folder / "sweep.csv").exists() and not args.force:
        raise ConfigError(f"{args.config}: {str(folder / 'sweep.csv')!r} exists; pass "
                          "--force to overwrite it, or set output.folder")
    # --force removes nothing now: the old sweep.csv/json are replaced when the new table
    # is written, and an earlier `optiframe run`'s files in the folder are never touched
    check_results_folder(folder, False, str(args.config))
    try:
        table = run_sweep(config, Path(args.config))
    except KeyboardInterrupt as stop:  # the rows that finished are kept and written
        partial = getattr(stop, "table", None)
        if partial is None or not len(partial):
            raise
        written = write_table(partial, folder)
        print(f"interrupted: {len(partial)} rows finished; results in {folder}/ "
              f"({', '.join(written)})", file=sys.stderr)
        return 130
    print(table.text())
    written = write_table(table, folder)
    print(f"results in {folder}/ ({', '.join(written)})")
    return 1 if all(row["status"] == "failed" for row in table) else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(figures=args.figures)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optiframe", description="A pluggable optimizer framework."
    )
    parser.add_argument("--version", action="version", version=f"optiframe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("plugins", help="show the installed plugins and what they register")
    p.add_argument("--all", action="store_true", help="include the built-in plugins")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("list", help="list the registered components")
    p.add_argument("kind", nargs="?", choices=list(KINDS), help="only this kind")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="run what a TOML config describes; write a results folder")
    p.add_argument("config", help="the TOML file")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (repeatable), e.g. --set optimizer.lr=0.1")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved config and exit without running")
    p.add_argument("--force", action="store_true",
                   help="overwrite an earlier run's results in the folder (a sweep's stay)")
    p.add_argument("--resume", action="store_true",
                   help="go on from the checkpoint in the results folder "
                        "(output.checkpoint_every writes one)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sweep", help="run every combination of the lists in a TOML config's "
                                     "[optimizer] and [stop]; write sweep.csv and sweep.json")
    p.add_argument("config", help="the TOML file")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (repeatable)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing sweep.csv and sweep.json (only those)")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("demo", help="retell the blog's story with real runs")
    p.add_argument("--figures", default="demo-figures", metavar="DIR",
                   help="where to write the figures (with optiframe-plot installed)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``optiframe`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except OptiframeError as exc:
        print(f"optiframe: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as exc:  # a plugin's own validator, as the how-to teaches
        if getattr(args, "func", None) not in (cmd_run, cmd_sweep):
            raise
        print(f"optiframe: error: {args.config}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("optiframe: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (optiframe list --json | head): quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the exit's flush does not fail too
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
