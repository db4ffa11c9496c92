"""``ranker demo``: one synthetic request ranked for several users, every rule on view.

The point of the demo is to show, on data that looks like a feed, what the compliance rules
do to a ranking: the *same* candidates are ranked for the same person as a normal
personalized user, after opting out, after deleting interest tags, as a minor in the
evening and after curfew, as an elderly user, and under a price policy that clamps
off-parity prices instead of dropping them. For each request it prints the status, the top
slots with the reasons the core gives for them, how many candidates each rule removed, and
whether the native backend agrees with the pure-Python reference (``ranker.compare``).

Exit code 0 when every comparison is equivalent, 1 otherwise, so the demo doubles as a
smoke test of an installed build.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ._backend import native_module
from .enums import Drop, Reason, Status
from .synthetic import make_candidates, make_policy, make_user

#: Output width: fits an 80-100 column terminal.
WIDTH = 88

#: Section titles, in the order printed (tests look for them).
TITLES = (
    "personalized",
    "opted out",
    "tags deleted",
    "minor at 21:00",
    "minor at 23:00 (curfew)",
    "elderly",
    "price disparity, action clamp",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``ranker demo``."""
    parser.add_argument("--n", type=int, default=1000, help="number of candidates (default 1000)")
    parser.add_argument("--d", type=int, default=64, help="embedding dimension (default 64)")
    parser.add_argument("--k", type=int, default=10, help="top slots shown per user (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default 0)")
    parser.add_argument("--backend", choices=("native", "reference"), default="native",
                        help="backend whose result is shown (default native); both are compared")
    parser.add_argument("--method", choices=("none", "mmr", "dpp"), default="mmr",
                        help="diversity method of the policy (default mmr)")
    parser.add_argument("--price-off-rate", type=float, default=0.10,
                        help="share of priced items offered off parity (default 0.10, so that "
                             "clamped prices reach the page)")


def _clock(minute: Optional[int]) -> str:
    return "--:--" if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"


def _reason_names(bits: int) -> str:
    names = [r.name.lower() for r in Reason if r.value & int(bits)]
    return ", ".join(names) if names else "-"


def _price(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.2f}"


def _describe_user(user: Any) -> str:
    """One line on what the request knows about the user (what the rules look at)."""
    parts = []
    if user.personalized:
        parts.append(f"personalized, {len(user.tag_ids)} interest tags")
    else:
        parts.append("personalization switched off (embedding and tags present, must be unused)")
    if len(user.deleted_tags):
        parts.append("deleted tags " + " ".join(str(int(t)) for t in user.deleted_tags))
    if user.minor_mode:
        age = "unknown" if user.age is None else str(user.age)
        parts.append(f"minor mode, age {age}, local time {_clock(user.local_minute)}, "
                     f"{user.usage_minutes_today} min used today")
    elif user.elderly:
        parts.append(f"elderly, age {user.age}")
    parts.append(f"{len(user.seen)} items seen")
    return "; ".join(parts)


def _heading(number: int, title: str) -> str:
    text = f"== {number}. {title} "
    return text + "=" * max(3, WIDTH - len(text))


def _wrapped(text: str) -> str:
    return textwrap.fill(text, width=WIDTH, subsequent_indent="    ")


def _slot_table(res: Any, show: int) -> List[str]:
    lines = [f"  {'slot':>4}  {'item id':>9}  {'score':>8}  {'price':>8}  reasons"]
    for t in range(min(show, len(res))):
        lines.append(
            f"  {t:>4}  {int(res.item_ids[t]):>9}  {float(res.scores[t]):>8.4f}  "
            f"{_price(float(res.prices[t])):>8}  {_reason_names(res.reasons[t])}"
        )
    return lines


def _drop_line(res: Any, n: int) -> str:
    dropped = [f"{Drop(code).name.lower()} {count}" for code, count in sorted(res.counts.items())
               if Drop(code) != Drop.ELIGIBLE and count]
    eligible = res.counts.get(Drop.ELIGIBLE, 0)
    text = f"eligible {eligible} of {n}; dropped: " + (", ".join(dropped) if dropped else "none")
    return _wrapped(text)


def _clamped_lines(res: Any, cands: Any, limit: int = 5) -> List[str]:
    """Slots anywhere on the page whose price was clamped to the reference."""
    slots = [t for t in range(len(res)) if int(res.reasons[t]) & Reason.PRICE_CLAMPED]
    if not slots:
        return ["  no clamped price on this page (no off-parity item ranked high enough)"]
    lines = [f"  {len(slots)} clamped price(s) on the page of {len(res)}:"]
    for t in slots[:limit]:
        i = int(res.indices[t])
        lines.append(f"    slot {t:>3}  item {int(res.item_ids[t])}: offered "
                     f"{cands.offered_price[i]:.2f} -> shown {res.prices[t]:.2f} (the reference price)")
    if len(slots) > limit:
        lines.append(f"    ... and {len(slots) - limit} more")
    return lines


def _off_parity(cands: Any, policy: Any) -> int:
    """How many candidates violate price parity under the policy's tolerances."""
    if cands.offered_price is None:
        return 0
    price = policy.to_dict()["price"]
    o, r = cands.offered_price, cands.reference_price
    with np.errstate(invalid="ignore"):
        bad = np.abs(o - r) > price["abs_tol"] + price["rel_tol"] * np.abs(r)
    return int(np.count_nonzero(bad & ~np.isnan(o) & ~np.isnan(r)))


def _native_problem() -> Optional[str]:
    """Why the native module cannot be loaded, or None when it can."""
    try:
        native_module()
    except ImportError as exc:
        return str(exc)
    return None


def _compare(ranker: Any, cands: Any, user: Any, policy: Any, k: int) -> Tuple[Any, Optional[str]]:
    """``ranker.compare`` on one request: (the Comparison, None) or (None, why it failed).

    Any exception counts: the demo reports it and exits 1 rather than stopping halfway.
    """
    try:
        return ranker.compare(cands, user, policy, k=k), None
    except Exception as exc:  # noqa: BLE001 - reported, and makes the exit code 1
        return None, f"{type(exc).__name__}: {exc}"


def _comparison_lines(cmp: Any, problem: Optional[str]) -> Tuple[bool, List[str]]:
    """(equivalent, the lines reporting it)."""
    if cmp is None:
        return False, [_wrapped(f"native vs reference: NOT COMPARED ({problem})")]
    ties, divergences = len(cmp.ties), len(cmp.divergences)
    counts = f"{ties} tie{'s' if ties != 1 else ''}, {divergences} divergence{'s' if divergences != 1 else ''}"
    if cmp.equivalent:
        return True, [f"native vs reference: equivalent ({counts})"]
    lines = [f"native vs reference: DIVERGENT ({counts})"]
    lines += [_wrapped(f"    {d}") for d in list(cmp.divergences)[:3]]
    return False, lines


def run(args: argparse.Namespace) -> int:
    """Rank the demo request for every user; 0 when every comparison is equivalent."""
    import ranker  # the package's public API; imported here so the CLI can load this module first

    if args.n < 0 or args.d < 1 or args.k < 0:
        raise ValueError(f"demo: need --n >= 0, --d >= 1 and --k >= 0; got n={args.n}, d={args.d}, k={args.k}")
    if not 0.0 <= args.price_off_rate <= 1.0:  # NaN fails this too
        raise ValueError(f"demo: --price-off-rate is a share in [0, 1], got {args.price_off_rate}")
    cands = make_candidates(args.n, args.d, args.seed, price_off_rate=args.price_off_rate)
    policy = make_policy(args.method)
    clamp = policy.replace(**{"price.action": "clamp"})
    page = max(args.k, policy.k)
    # Without the compiled module nothing can be compared. Showing the native backend then
    # fails at once (ImportError, reported by the CLI); showing the reference still runs,
    # says once why there is no comparison, and exits 1.
    native_problem = _native_problem()
    if native_problem is not None and args.backend == "native":
        raise ImportError(native_problem)

    def user(kind: str, **options: Any) -> Any:
        return make_user(args.d, args.seed, kind=kind, candidates=cands, **options)

    cases: Sequence[Tuple[str, Any, Any]] = (
        (TITLES[0], user("personalized"), policy),
        (TITLES[1], user("opted_out"), policy),
        (TITLES[2], user("deleted_tags"), policy),
        (TITLES[3], user("minor", local_minute=21 * 60), policy),
        (TITLES[4], user("minor", local_minute=23 * 60), policy),
        (TITLES[5], user("elderly"), policy),
        (TITLES[6], user("personalized"), clamp),
    )

    print(_wrapped(
        f"ranker demo: {cands.n} synthetic candidates (d={cands.d}, seed {args.seed}), "
        f"the same for every user below. Policy: all compliance masks on, diversity "
        f"{policy.method}, a page of {page} slots (top {args.k} shown), policy hash "
        f"{policy.hash[:12]}. Shown: the {args.backend} backend."
    ))
    if native_problem is not None:
        print(_wrapped(f"note: no comparison with the native backend: {native_problem}"))
    equivalent = 0
    baseline: Optional[set] = None  # the item ids on the personalized user's page
    for number, (title, u, pol) in enumerate(cases, start=1):
        # compare() ranks on both backends; show its result for --backend instead of ranking a
        # third time. Without a comparison, rank directly (errors then surface as they are).
        cmp, problem = None, "no native module, see above"
        if native_problem is None:
            cmp, problem = _compare(ranker, cands, u, pol, page)
        res = None if cmp is None else (cmp.native if args.backend == "native" else cmp.reference)
        if res is None:
            res = ranker.rank(cands, u, pol, k=page, backend=args.backend)
        print()
        print(_heading(number, title))
        print(_wrapped("user: " + _describe_user(u)))
        if pol is clamp:
            price = pol.to_dict()["price"]
            print(_wrapped(
                f"policy: price action clamp (abs_tol {price['abs_tol']}, rel_tol "
                f"{price['rel_tol']}): {_off_parity(cands, pol)} candidates are off parity; "
                f"they stay in, shown at the reference price (hash {pol.hash[:12]})"
            ))
        status = Status(int(res.status))
        if status == Status.OK:
            print(f"status: OK, {len(res)} slots filled (top {min(args.k, len(res))} shown)")
            for line in _slot_table(res, args.k):
                print(line)
            # Most rules act below the top slots; the page-level difference shows their effect.
            page_ids = set(res.item_ids.tolist())
            if baseline is None:
                baseline = page_ids
            else:
                print(f"page vs personalized: {len(page_ids - baseline)} of {len(page_ids)} items differ")
        else:
            print(f"status: {status.name}: no slots served (local time {_clock(u.local_minute)})")
        if pol is clamp:
            for line in _clamped_lines(res, cands):
                print(line)
        print(_drop_line(res, cands.n))
        ok, lines = _comparison_lines(cmp, problem)
        equivalent += ok
        for line in lines:
            print(line)

    print()
    print(f"summary: {equivalent} of {len(cases)} requests equivalent between native and reference")
    return 0 if equivalent == len(cases) else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the demo without the CLI (``python -m ranker.demo``)."""
    parser = argparse.ArgumentParser(prog="ranker demo", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
