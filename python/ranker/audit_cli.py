"""``ranker audit {verify,report} LOG``: the command-line side of :mod:`ranker.audit`.

- ``ranker audit verify LOG [--limit N] [--verbose] [--json]``: check the log as a whole (SQLite's
  page check, missing records, columns against records), then replay every sampled request
  through the reference and check the stored result by the certificate rule. Exit status 0 when
  the log has no problem, at least one sampled request was checked and all are equivalent (ties
  allowed), 1 otherwise, 2 when the file cannot be read.
- ``ranker audit report LOG [--since DAY] [--until DAY] [--html FILE] [--json]``: per UTC day,
  requests, opted-out and minor-mode shares, drops per rule, curfew and daily-limit refusals,
  price clamps and lost records, as a table; ``--html`` also writes a self-contained page.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _day(text: str) -> str:
    import datetime

    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, got {text!r}") from None
    return text


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = sub.add_parser("verify", help="replay sampled requests through the reference (certificate rule)",
                       description="Replay every request whose inputs were sampled into the log through the "
                                   "reference implementation and check the stored result by the certificate rule.")
    v.add_argument("log", metavar="LOG", help="the audit log (SQLite file written by ranker.audit.AuditLog)")
    v.add_argument("--limit", type=_count, default=None, metavar="N",
                   help="replay at most N sampled requests (0: only the checks of the whole log)")
    v.add_argument("--verbose", "-v", action="store_true", help="also list the ties found")
    v.add_argument("--json", action="store_true", help="print the findings as JSON")
    r = sub.add_parser("report", help="per-day summary: requests, protected modes, drops, refusals, price clamps",
                       description="Summarise the audit log per UTC day.")
    r.add_argument("log", metavar="LOG", help="the audit log (SQLite file written by ranker.audit.AuditLog)")
    r.add_argument("--since", type=_day, default=None, metavar="DAY", help="first day (YYYY-MM-DD, UTC)")
    r.add_argument("--until", type=_day, default=None, metavar="DAY", help="last day (YYYY-MM-DD, UTC)")
    r.add_argument("--html", default=None, metavar="FILE", help="also write a self-contained HTML page with charts")
    r.add_argument("--json", action="store_true", help="print the per-day figures as JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from . import audit

    if args.audit_command == "verify":
        found = audit.verify(args.log, limit=args.limit)
        if args.json:
            print(json.dumps(found.to_dict(), indent=2))
        else:
            print(found.format(verbose=args.verbose))
        return 0 if found.ok else 1
    days = audit.report(args.log, since=args.since, until=args.until)
    if args.json:
        print(json.dumps([d.to_dict() for d in days], indent=2))
    else:
        print(audit.format_report(days))
    if args.html:
        Path(args.html).write_text(audit.report_html(days, source=str(args.log)), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    return 0


__all__ = ["add_arguments", "run"]
