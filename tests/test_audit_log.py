"""The audit log (ranker.audit.AuditLog) and its report: durable, thread-safe, never loses a
record silently; flushed records survive SIGKILL and the database stays intact."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import ranker
from ranker.audit import AuditLog, AuditLogError, format_report, iter_records, report, report_html
from ranker.record import to_record


def small_request(seed=0, n=25, **user_kw):
    rng = np.random.default_rng(seed)
    cands = ranker.Candidates(
        item_id=np.arange(n) + 1, embedding=rng.normal(size=(n, 3)).astype(np.float32),
        prior=rng.random(n).astype(np.float32), category=rng.integers(0, 3, n),
        flags=np.where(np.arange(n) % 6 == 0, 1, 0).astype(np.uint32),
        min_age=np.where(np.arange(n) % 4 == 1, 18, 0).astype(np.uint8),
        offered_price=np.where(np.arange(n) % 5 == 2, 12.0, 10.0), reference_price=np.full(n, 10.0))
    user = ranker.User(embedding=rng.normal(size=3).astype(np.float32), **user_kw)
    return cands, user


POLICY = ranker.Policy.from_dict({"k": 6, "weights": {"relevance": 1.0, "prior": 0.2},
                                  "price": {"action": "clamp"}})


@pytest.fixture(scope="module")
def result():
    cands, user = small_request()
    return ranker.rank(cands, user, POLICY, backend="reference")


@pytest.fixture(scope="module")
def template(result):
    return to_record(result, request_id="template")


def count_rows(path, table="records"):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def test_roundtrip_wal_and_order(tmp_path, result):
    path = tmp_path / "audit.db"
    with AuditLog(path) as log:
        for i in range(30):
            assert log.write(result, request_id=f"q{i}") is True
        assert log.flush() == 30
        assert log.stats() == {"accepted": 30, "written": 30, "queued": 0, "dropped": 0, "sampled": 0}
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    records = list(iter_records(path))
    assert [r["request_id"] for r in records] == [f"q{i}" for i in range(30)]
    expected = to_record(result, request_id="q0")
    for key in ("policy_hash", "backend", "items", "drops", "user", "status", "pins"):
        assert records[0][key] == expected[key]


def test_many_threads_every_record_once(tmp_path, template):
    path = tmp_path / "threads.db"
    log = AuditLog(path, queue_size=64, batch_size=16)
    threads, per_thread = 6, 150
    barrier = threading.Barrier(threads)
    acks: list[list[int]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []

    def worker(t):
        try:
            barrier.wait()
            for i in range(per_thread):
                log.write(dict(template, request_id=f"t{t}-{i}"))
                if i % 40 == 39:
                    acks[t].append(log.flush())
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    log.close()
    assert not errors
    for a in acks:
        assert a == sorted(a) and all(x >= 40 for x in a)
    ids = [r["request_id"] for r in iter_records(path)]
    assert len(ids) == threads * per_thread
    assert set(ids) == {f"t{t}-{i}" for t in range(threads) for i in range(per_thread)}
    for t in range(threads):  # one thread's records keep their order
        mine = [x for x in ids if x.startswith(f"t{t}-")]
        assert mine == [f"t{t}-{i}" for i in range(per_thread)]


def hold_write_lock(path):
    """Another connection takes the database's write lock, so the log's writer must wait."""
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    return blocker


def test_overflow_drop_counts_and_records_the_loss(tmp_path, template):
    path = tmp_path / "drop.db"
    log = AuditLog(path, queue_size=4, batch_size=2, overflow="drop", busy_timeout=20)
    blocker = hold_write_lock(path)
    try:
        accepted = sum(log.write(dict(template, request_id=f"d{i}")) for i in range(40))
        # at most one batch in flight plus a full queue can be accepted while the writer is stuck
        assert accepted <= 4 + 2
        assert log.dropped == 40 - accepted
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert log.flush() == accepted
    log.close()
    assert count_rows(path) == accepted
    days = report(path)
    assert sum(d.lost for d in days) == 40 - accepted
    assert sum(d.requests for d in days) == accepted
    assert "WARNING: records were lost" in format_report(days)


def test_overflow_block_waits_and_loses_nothing(tmp_path, template):
    path = tmp_path / "block.db"
    log = AuditLog(path, queue_size=2, batch_size=1, overflow="block", busy_timeout=20)
    blocker = hold_write_lock(path)
    done = threading.Event()

    def producer():
        for i in range(10):
            log.write(dict(template, request_id=f"b{i}"))
        done.set()

    th = threading.Thread(target=producer)
    th.start()
    try:
        assert not done.wait(0.5), "write() returned although the queue was full"
        assert log.stats()["queued"] == 2
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    th.join(20)
    assert done.is_set()
    log.close()
    assert log.dropped == 0
    assert [r["request_id"] for r in iter_records(path)] == [f"b{i}" for i in range(10)]


def test_writer_failure_is_raised_not_swallowed(tmp_path, template, monkeypatch):
    log = AuditLog(tmp_path / "fail.db")

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(log, "_commit", broken)
    log.write(template)
    with pytest.raises(AuditLogError, match="disk I/O error"):
        log.flush(timeout=10)
    with pytest.raises(AuditLogError):
        log.write(template)
    assert log.dropped == 1
    with pytest.raises(AuditLogError):
        log.close()
    log.close()  # idempotent afterwards


def test_closed_log_and_bad_arguments(tmp_path, template):
    log = AuditLog(tmp_path / "c.db")
    log.close()
    log.close()
    with pytest.raises(AuditLogError, match="closed"):
        log.write(template)
    with pytest.raises(AuditLogError, match="closed"):
        log.flush()
    for kwargs in ({"overflow": "maybe"}, {"sample_inputs": 1.5}, {"queue_size": 0}, {"batch_size": 0},
                   {"synchronous": "sometimes"}):
        with pytest.raises(ValueError):
            AuditLog(tmp_path / "bad.db", **kwargs)
    with AuditLog(tmp_path / "v.db") as log:
        with pytest.raises(ValueError, match="missing keys"):
            log.write({"request_id": "x"})
        with pytest.raises(TypeError, match="JSON"):
            log.write(dict(template, extra=object()))
        with pytest.raises(ValueError, match="sample"):
            log.write(template, sample=True)
        with pytest.raises(TypeError, match="^result: expected a ranker.RankResult or a record dict"):
            log.write("nope")
    with pytest.raises(FileNotFoundError):
        report(tmp_path / "missing.db")
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ValueError, match="not a readable SQLite database"):
        report(tmp_path / "junk.db")
    assert not (tmp_path / "missing.db").exists()
    # The log opens neither a file that is not a database nor another program's database, and
    # writes nothing into either.
    with pytest.raises(AuditLogError, match=r"junk\.db: cannot use the file"):
        AuditLog(tmp_path / "junk.db")
    assert (tmp_path / "junk.db").read_bytes() == b"this is not a database" * 100
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE x (a)")
    other.commit()
    other.close()
    with pytest.raises(AuditLogError, match=r"other\.db: the file is an SQLite database of something else"):
        AuditLog(tmp_path / "other.db")
    other = sqlite3.connect(tmp_path / "other.db")
    assert [r[0] for r in other.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["x"]
    other.close()


# --- SIGKILL: every record acknowledged by flush() survives, the database is never corrupt ---

CHILD = r"""
import json, sys
from ranker.audit import AuditLog
path, run, template = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
log = AuditLog(path, batch_size=32)
n = 0
while True:
    for _ in range(20):
        log.write(dict(template, request_id=f"{run}-{n}"))
        n += 1
    log.flush()
    print(n, flush=True)
"""


def test_sigkill_keeps_every_flushed_record(tmp_path, template):
    path = tmp_path / "killed.db"
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(ranker.__file__).parents[1]),
                                                       os.environ.get("PYTHONPATH", "")]))
    acknowledged = {}
    for run in range(4):
        with subprocess.Popen([sys.executable, "-c", CHILD, str(path), f"run{run}", json.dumps(template)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as child:
            lines: list[str] = []
            reader = threading.Thread(target=lambda: lines.extend(child.stdout), daemon=True)
            reader.start()
            deadline = time.monotonic() + 30
            while not lines and time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.01)
            if lines:
                time.sleep(rng.uniform(0.05, 0.8))  # kill at a random moment, mid-batch or mid-commit
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            reader.join(10)
            error = child.stderr.read()
        assert lines, f"child never acknowledged a flush (seed {seed}): {error}"
        assert child.returncode == -signal.SIGKILL
        acknowledged[f"run{run}"] = int(lines[-1])
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", f"seed {seed}"
        stored = {row[0] for row in conn.execute("SELECT request_id FROM records")}
    finally:
        conn.close()
    for run, n in acknowledged.items():
        missing = [i for i in range(n) if f"{run}-{i}" not in stored]
        assert not missing, f"{run}: {len(missing)} acknowledged records lost (seed {seed})"
    assert sum(acknowledged.values()) >= 4 * 20
    # a log opened after the crashes goes on writing to the same file
    with AuditLog(path) as log:
        log.write(dict(template, request_id="after"))
    assert "after" in {r["request_id"] for r in iter_records(path)}


def test_queued_records_are_written_at_normal_exit(tmp_path, template):
    path = tmp_path / "exit.db"
    code = ("import json, sys\nfrom ranker.audit import AuditLog\n"
            "log = AuditLog(sys.argv[1])\n"
            "for i in range(200):\n    log.write(dict(json.loads(sys.argv[2]), request_id=str(i)))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(ranker.__file__).parents[1]),
                                                       os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, "-c", code, str(path), json.dumps(template)], check=True, env=env, timeout=60)
    assert count_rows(path) == 200


# --- report ---

def test_report_counts_per_day(tmp_path):
    path = tmp_path / "report.db"
    kinds = [
        ({}, 3), ({"personalized": False}, 2),
        ({"minor_mode": True, "age": 12, "local_minute": 23 * 60, "usage_minutes_today": 0}, 1),  # curfew
        ({"minor_mode": True, "age": 12, "local_minute": 600, "usage_minutes_today": 500}, 2),   # daily limit
        ({"minor_mode": True, "age": 12, "local_minute": 600, "usage_minutes_today": 0}, 1),
    ]
    expected_drops = {rule.name: 0 for rule in ranker.Drop if rule != ranker.Drop.ELIGIBLE}
    clamps = 0
    with AuditLog(path) as log:
        n = 0
        for user_kw, repeat in kinds:
            for _ in range(repeat):
                cands, user = small_request(seed=n, **user_kw)
                res = ranker.rank(cands, user, POLICY, backend="reference")
                rec = to_record(res, request_id=str(n))
                rec["time"] = ("2025-03-01" if n % 2 else "2025-03-02") + rec["time"][10:]
                if rec["time"].startswith("2025-03-02"):
                    for name, v in rec["drops"].items():
                        expected_drops[name] += v
                    clamps += sum(1 for it in rec["items"] if "PRICE_CLAMPED" in it["why"])
                log.write(rec)
                n += 1
    days = report(path)
    assert [d.day for d in days] == ["2025-03-01", "2025-03-02"]
    assert sum(d.requests for d in days) == 9
    records = list(iter_records(path))
    for d in days:
        mine = [r for r in records if r["time"].startswith(d.day)]
        assert d.requests == len(mine)
        assert d.opted_out == sum(r["user"]["opted_out"] for r in mine)
        assert d.minor == sum(r["user"]["minor"] for r in mine)
        assert d.curfew == sum(r["status"] == "CURFEW" for r in mine)
        assert d.daily_limit == sum(r["status"] == "DAILY_LIMIT" for r in mine)
    assert days[1].drops == expected_drops and days[1].price_clamped == clamps
    assert sum(d.curfew for d in days) == 1 and sum(d.daily_limit for d in days) == 2
    assert clamps > 0
    only = report(path, since="2025-03-02")
    assert [d.day for d in only] == ["2025-03-02"]

    table = format_report(days)
    assert "2025-03-01" in table and "total" in table
    page = report_html(days, source=str(path))
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 4
    for forbidden in ("<script", "<link", "src=", "href=", "@import", "url("):
        assert forbidden not in page  # one self-contained file: nothing fetched
    assert f"<td>{days[1].requests}</td>" in page


def cli(argv):
    """``ranker audit ...`` through this module's own parser (the lead's ranker.cli wires the same one)."""
    import argparse

    from ranker import audit_cli

    parser = argparse.ArgumentParser(prog="ranker audit")
    audit_cli.add_arguments(parser)
    return audit_cli.run(parser.parse_args(argv))


def test_cli_report_writes_html(tmp_path, result, capsys):
    path = tmp_path / "cli.db"
    with AuditLog(path) as log:
        for i in range(3):
            log.write(result, request_id=str(i))
    out_html = tmp_path / "r.html"
    assert cli(["report", str(path), "--html", str(out_html)]) == 0
    out = capsys.readouterr().out
    assert "Requests and protections per day" in out and "Candidates removed per rule" in out
    assert "<svg" in out_html.read_text(encoding="utf-8")
    assert cli(["report", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["requests"] == 3 and data[0]["drops"]["BLOCKED"] == 3 * result.counts[ranker.Drop.BLOCKED]
    with pytest.raises(FileNotFoundError):
        cli(["report", str(tmp_path / "nope.db")])
    with pytest.raises(SystemExit):
        cli(["report", str(path), "--since", "March"])
