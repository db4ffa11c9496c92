"""Sampled shadow verification: stored inputs replay through the reference, and a stored result
that the reference would not certify (or that its record misdescribes) is reported."""

from __future__ import annotations

import argparse
import json
import sqlite3

import numpy as np
import pytest

import ranker
from ranker import audit_cli
from ranker.audit import AuditLog, pack_inputs, rebuild, unpack_inputs, verify
from ranker.synthetic import make_candidates, make_policy, make_user


BACKENDS = ["reference", "native"]


def cli(argv):
    parser = argparse.ArgumentParser(prog="ranker audit")
    audit_cli.add_arguments(parser)
    return audit_cli.run(parser.parse_args(argv))


def requests_for(backend):
    """A mix of users, methods and a second page, so the replay covers history and refusals."""
    out = []
    for seed, (kind, method) in enumerate([("personalized", "none"), ("opted_out", "mmr"), ("deleted_tags", "dpp"),
                                           ("elderly", "mmr"), ("minor", "none")]):
        cands = make_candidates(80, 8, seed)
        user = make_user(8, seed, kind=kind, candidates=cands)
        policy = make_policy(method, k=12)
        res = ranker.rank(cands, user, policy, backend=backend)
        out.append(res)
        if kind == "personalized":  # page two continues from page one
            out.append(ranker.rank(make_candidates(80, 8, 100 + seed), user, policy, backend=backend, history=res))
    curfew = make_user(8, 9, kind="minor", local_minute=23 * 60)
    out.append(ranker.rank(make_candidates(40, 8, 9), curfew, make_policy("none", k=5), backend=backend))
    assert out[-1].status == ranker.Status.CURFEW
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_sampled_requests_verify(tmp_path, backend, capsys):
    path = tmp_path / "v.db"
    results = requests_for(backend)
    with AuditLog(path, sample_inputs=1.0) as log:
        for i, res in enumerate(results):
            log.write(res, request_id=f"s{i}")
        log.write(results[0], request_id="unsampled", sample=False)
    found = verify(path)
    assert found.total_records == len(results) + 1 and found.sampled == found.checked == len(results)
    assert found.ok, found.format()
    assert {f.outcome for f in found.findings} <= {"equivalent", "tie"}
    assert cli(["verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{len(results)} with sampled inputs" in out and "divergent:              0" in out


def test_replay_rebuilds_the_request(tmp_path):
    path = tmp_path / "r.db"
    results = requests_for("reference")
    with AuditLog(path, sample_inputs=1.0) as log:
        for res in results:
            log.write(res)
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT r.seq, r.request_id, r.record, i.data FROM records r JOIN inputs i USING (seq) "
                        "ORDER BY seq").fetchall()
    conn.close()
    for (seq, rid, text, blob), res in zip(rows, results):
        stored = rebuild(seq, rid, json.loads(text), blob)
        assert stored.policy.hash == res.policy_hash and stored.k == res.k
        again = ranker.rank(stored.candidates, stored.user, stored.policy, stored.k, backend="reference",
                            history=stored.history)
        assert np.array_equal(again.indices, res.indices) and np.array_equal(again.drop_codes, res.drop_codes)
        assert np.array_equal(stored.result.reasons, res.reasons)
        if res.user.personalized:
            assert np.array_equal(stored.user.embedding, res.user.embedding)
            assert stored.user.tags == res.user.tags
        else:  # data minimisation: an opted-out user's profile is not stored
            assert not stored.user.embedding.any() and stored.user.tags == {} and stored.user.deleted_tags.size == 0
    assert any(r.history is not None and len(r.history) for r in results)


def tamper(path, change_arrays=None, change_record=None):
    conn = sqlite3.connect(path)
    seq, text, blob = conn.execute("SELECT seq, record, data FROM records JOIN inputs USING (seq) "
                                   "WHERE status = 'OK' ORDER BY seq LIMIT 1").fetchone()
    if change_arrays:
        header, arrays = unpack_inputs(blob)
        change_arrays(arrays)
        conn.execute("UPDATE inputs SET data = ? WHERE seq = ?", (pack_inputs({"header": header, "arrays": arrays}), seq))
    if change_record:
        record = json.loads(text)
        change_record(record)
        conn.execute("UPDATE records SET record = ? WHERE seq = ?", (json.dumps(record), seq))
    conn.commit()
    conn.close()
    return seq


def logged(tmp_path, name):
    path = tmp_path / name
    cands = make_candidates(60, 8, 3)
    user = make_user(8, 3, candidates=cands)
    res = ranker.rank(cands, user, make_policy("none", k=10), backend="reference")
    with AuditLog(path, sample_inputs=1.0) as log:
        log.write(res, request_id="victim")
        log.write(res, request_id="clean")
    return path, res


def test_a_wrong_selection_is_divergent(tmp_path, capsys):
    path, res = logged(tmp_path, "swap.db")

    def swap(arrays):  # serve the best item last: not certifiable (no tie with these scores)
        idx = arrays["r.indices"]
        idx[0], idx[-1] = idx[-1], idx[0]

    seq = tamper(path, change_arrays=swap)
    found = verify(path)
    assert not found.ok
    bad = [f for f in found.findings if f.outcome == "divergent"]
    assert [f.seq for f in bad] == [seq] and bad[0].request_id == "victim"
    assert any("slot 0" in d for d in bad[0].details)
    assert cli(["verify", str(path)]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_a_wrong_drop_code_is_divergent(tmp_path):
    path, res = logged(tmp_path, "drop.db")
    eligible = int(np.flatnonzero(res.drop_codes == 0)[-1])

    def drop(arrays):
        arrays["r.drop_codes"][eligible] = int(ranker.Drop.BLOCKED)

    tamper(path, change_arrays=drop)
    found = verify(path)
    assert found.count("divergent") == 1 and found.count("equivalent") == 1


def test_a_record_that_misdescribes_the_result_is_divergent(tmp_path):
    path, _ = logged(tmp_path, "rec.db")

    def lie(record):
        record["drops"]["BLOCKED"] += 1

    tamper(path, change_record=lie)
    found = verify(path)
    bad = [f for f in found.findings if f.outcome == "divergent"]
    assert len(bad) == 1 and "drop counts" in bad[0].details[0]


def test_an_unreadable_sample_is_reported(tmp_path):
    path, _ = logged(tmp_path, "bad.db")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE inputs SET data = ? WHERE seq = (SELECT MIN(seq) FROM inputs)", (b"not an archive",))
    conn.commit()
    conn.close()
    found = verify(path)
    assert found.count("error") == 1 and not found.ok


def test_nothing_sampled_is_not_ok(tmp_path, capsys):
    path = tmp_path / "none.db"
    res = requests_for("reference")[0]
    with AuditLog(path, sample_inputs=0.0) as log:
        for _ in range(5):
            log.write(res)
    found = verify(path)
    assert found.checked == 0 and not found.ok
    assert cli(["verify", str(path)]) == 1
    assert "nothing to verify" in capsys.readouterr().out


def test_sampling_rate(tmp_path):
    path = tmp_path / "rate.db"
    res = requests_for("reference")[0]
    with AuditLog(path, sample_inputs=0.25, seed=7) as log:
        for _ in range(400):
            log.write(res)
        log.flush()
        assert log.stats()["sampled"] == verify(path, limit=0).sampled
    sampled = verify(path, limit=0).sampled
    assert 60 <= sampled <= 140  # Binomial(400, 0.25): mean 100, sd 8.7


def edit(path, sql, *params):
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


@pytest.mark.parametrize("change, expected", [
    # a user flag, a pin status, a price shown, the reason names: fields beyond ids, bits and counts
    (lambda r: r["user"].update(opted_out=not r["user"]["opted_out"]), "record user is"),
    (lambda r: r["items"][0].update(why=["EDITORIAL"]), "record items[0] is"),
    (lambda r: r["items"][0].update(slot=5), "record items[0] is"),
    (lambda r: r.update(k=r["k"] + 1), "record k is"),
    (lambda r: r.update(candidates=r["candidates"] - 1), "record candidates is"),
])
def test_any_field_of_a_sampled_record_that_misdescribes_the_result_is_divergent(tmp_path, change, expected):
    path, _ = logged(tmp_path, "field.db")
    seq = tamper(path, change_record=change)
    found = verify(path)
    bad = [f for f in found.findings if f.outcome == "divergent"]
    assert [f.seq for f in bad] == [seq] and any(d.startswith(expected) for d in bad[0].details), bad
    assert not found.ok


def test_problems_of_the_whole_log_fail_verification(tmp_path, capsys):
    results = requests_for("reference")[:4]

    def fresh(name):
        path = tmp_path / name
        with AuditLog(path, sample_inputs=0.0) as log:
            for i, res in enumerate(results):
                log.write(res, request_id=f"r{i}", sample=i == 3)
        assert verify(path).ok
        return path

    # The report reads the indexed columns: one that contradicts its record is found in any
    # record, sampled or not.
    path = fresh("columns.db")
    edit(path, "UPDATE records SET opted_out = 1 - opted_out, drop_blocked = drop_blocked + 2 WHERE seq = 2")
    found = verify(path)
    assert not found.ok and found.log_problems == [
        f"record 2: column opted_out is {1 - int(not results[1].user.personalized)}, its record says "
        f"{int(not results[1].user.personalized)}",
        f"record 2: column drop_blocked is {results[1].counts[ranker.Drop.BLOCKED] + 2}, its record says "
        f"{results[1].counts[ranker.Drop.BLOCKED]}"]
    assert cli(["verify", str(path)]) == 1 and "problems in the log:    2" in capsys.readouterr().out
    # A deleted record leaves a gap in the sequence, and a deleted sampled record its inputs
    # (the newest record, 4, leaves no gap: only its inputs tell).
    path = fresh("gap.db")
    edit(path, "DELETE FROM records WHERE seq IN (2, 4)")
    assert verify(path).log_problems == ["record 2 is missing (deleted from the log)",
                                         "inputs 4 have no record (the record was deleted)"]
    path = fresh("gap2.db")
    edit(path, "DELETE FROM records WHERE seq IN (1, 2)")
    assert verify(path).log_problems == ["records 1 to 2 are missing (deleted from the log)"]
    # A JSON record that cannot be read is a problem, not a crash.
    path = fresh("json.db")
    edit(path, "UPDATE records SET record = '{' WHERE seq = 1")
    assert verify(path).log_problems[0].startswith("record 1: unreadable (JSONDecodeError")


def test_a_damaged_database_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "big.db"
    res = requests_for("reference")[0]
    with AuditLog(path, sample_inputs=1.0, seed=1) as log:
        for _ in range(30):
            log.write(res)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    data[8192:len(data) - 4096] = rng.integers(0, 256, len(data) - 8192 - 4096, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    try:
        found = verify(path)
    except ValueError as exc:  # SQLite met the damage while reading
        assert str(exc).startswith(f"audit log {path}: the database is damaged")
    else:  # or its page check found it first
        assert not found.ok and found.log_problems[0].startswith("SQLite quick_check:")
    from ranker.cli import main
    assert main(["audit", "verify", str(path)]) in (1, 2)
    assert "Traceback" not in capsys.readouterr().err


def test_limit_is_checked(tmp_path):
    path, _ = logged(tmp_path, "limit.db")
    assert verify(path, limit=1).checked == 1 and verify(path, limit=0).checked == 0
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="^limit: "):
            verify(path, limit=bad)
    with pytest.raises(SystemExit):
        cli(["verify", str(path), "--limit", "-1"])
