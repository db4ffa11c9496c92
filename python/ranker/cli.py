"""The ``ranker`` command. Each subcommand lives in its own module, which provides
``add_arguments(parser)`` and ``run(args) -> int``; this file only wires them up."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

# subcommand -> (module, one-line help)
SUBCOMMANDS = {
    "demo": ("ranker.demo", "rank synthetic requests for several kinds of user and compare both backends"),
    "bench": ("ranker.benchmark", "latency and throughput benchmarks (p50/p99/p999), JSON out, regression check"),
    "audit": ("ranker.audit_cli", "verify and report on an audit log"),
    "describe": ("ranker.describe", "the algorithm's public description generated from a policy file"),
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="ranker", description="A compliant ranking core.")
    parser.add_argument("--version", action="version", version=f"ranker {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (ValueError, TypeError, OSError, ImportError) as exc:
        if isinstance(exc, BrokenPipeError):
            # The reader went away (`ranker audit report LOG | head`): not an error of ours. Point
            # stdout at /dev/null so the interpreter's last flush does not raise again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        print(f"ranker {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
