# SPDX-License-Identifier: GPL-3.0-or-later
"""``lgvsc`` command line.

Each sub-command lives in ``lgvsc.cli.<name>_cmd`` and exposes ``add_parser(subparsers)``,
which adds its parser and calls ``set_defaults(func=run)``; ``run(args) -> int`` returns the
exit status. Heavy imports happen inside ``run`` so that ``--help`` stays fast. Errors a
user can fix raise :class:`lgvsc.errors.UserError` (message, exit status 2).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from lgvsc.errors import UserError

__all__ = ["main"]

# Sub-command modules, in the order --help lists them. Add one line per command.
COMMANDS = [
    "encode",
    "decode",
    "inspect",
    "channel",
    "linksim",
    "worker",
    "loopback",
    "eval",
]


def _available_commands():
    for name in COMMANDS:
        try:
            yield name, importlib.import_module(f"lgvsc.cli.{name.replace('-', '_')}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name != f"lgvsc.cli.{name.replace('-', '_')}_cmd":
                raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lgvsc",
        description="LGVSC generative video semantic communication (ML side).",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for _name, module in _available_commands():
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"lgvsc {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("lgvsc: interrupted", file=sys.stderr)
        return 130
