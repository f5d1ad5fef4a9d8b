"""The ``oemhost`` command: one sub-command group per core module.

Each module listed in ``COMMAND_MODULES`` has ``register(subparsers)`` that adds its
group and sets ``func(args, settings) -> int`` on its parsers. Heavy imports stay inside
the functions so that ``oemhost --help`` is fast. Errors the user can act on are
:class:`~oemhost.errors.OemhostError`: one line on stderr, exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from oemhost.config import load_settings
from oemhost.errors import OemhostError

COMMAND_MODULES = [
    "oemhost.lab.cli",
    "oemhost.store.cli",
    "oemhost.jobs.cli",
    "oemhost.accounts.cli",
    "oemhost.accounts.demo",
    "webui.cli",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line, exit 2 (argparse's convention)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="oemhost", description="White-label shared hosting run as code.")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        return int(args.func(args, settings) or 0)
    except OemhostError as exc:
        print(f"oemhost: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("oemhost: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
