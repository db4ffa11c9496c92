"""A durable audit trail of ranking results (Article 28), its shadow verification and its report.

:class:`AuditLog` writes the records of :func:`ranker.record.to_record` into an SQLite database
(the embedded default: one file, WAL mode, ``synchronous=FULL``). Callers hand it results from
any number of threads; a background thread writes them in batches, one transaction per batch.

- The queue is bounded. Its overflow policy is explicit: ``overflow="block"`` makes ``write``
  wait for room; ``overflow="drop"`` makes it return ``False`` at once, counts the record as lost
  (:attr:`AuditLog.dropped`) and writes the count into the database (table ``lost``, per day),
  so the report shows the gap. Nothing is lost silently.
- ``flush()`` returns once every record whose ``write`` returned before the call is committed:
  a record acknowledged by ``flush()`` survives the process being killed (SIGKILL) and, with the
  default ``synchronous="FULL"``, a power cut. ``close()`` flushes and stops the writer.
- If the database cannot be written (disk full, a lock held too long), the error is kept and
  raised by the next ``write``, ``flush`` or ``close``: a broken audit trail is never silent.

Sampled shadow verification: with ``sample_inputs=p`` a fraction p of the requests also stores
its full inputs and the native result (table ``inputs``: a ``np.savez_compressed`` archive of the
candidate, user, history and result arrays plus a JSON header with ``policy.to_dict()``, k and the
user's scalar fields). :func:`verify` replays them through the reference and checks each stored
result by the certificate rule (``ranker.compare.certify``). The arrays are copied when ``write``
is called and compressed on the writer thread. For a user who opted out of personalisation the
stored embedding is zeros and the interest and deleted tags are empty: the pipeline must not read
them (Art. 17), so the replay needs no personal data, and a native result that did depend on them
fails verification.

The ``inputs`` table holds personal data (embeddings, interest tags, age, seen items) of the
sampled requests; the ``records`` table holds mode flags only. Restrict access accordingly.

:func:`report` aggregates the records per day (UTC): requests, opted-out and minor-mode shares,
drops per rule, curfew and daily-limit refusals, price clamps, lost records; :func:`format_report`
renders it as a terminal table, :func:`report_html` as one self-contained HTML page (inline SVG).
"""

from __future__ import annotations

import atexit
import collections
import dataclasses
import html
import io
import json
import math
import random
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

import numpy as np

from .enums import Drop, PinStatus, Reason, Status
from .record import Capture, package_version

#: Format tag of the stored inputs archive.
INPUTS_FORMAT = "ranker.inputs/1"
#: Schema version of the database (``meta`` table, key ``schema``).
DB_SCHEMA = "1"

_RULES = [rule for rule in Drop if rule != Drop.ELIGIBLE]
_DROP_COLUMNS = [f"drop_{rule.name.lower()}" for rule in _RULES]

_SCHEMA_SQL = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    time TEXT NOT NULL,
    day TEXT NOT NULL,
    policy_hash TEXT NOT NULL,
    backend TEXT NOT NULL,
    status TEXT NOT NULL,
    opted_out INTEGER NOT NULL,
    minor INTEGER NOT NULL,
    elderly INTEGER NOT NULL,
    candidates INTEGER NOT NULL,
    selected INTEGER NOT NULL,
    price_clamped INTEGER NOT NULL,
    price_flagged INTEGER NOT NULL,
    {", ".join(f"{c} INTEGER NOT NULL" for c in _DROP_COLUMNS)},
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_day ON records(day);
CREATE INDEX IF NOT EXISTS records_request ON records(request_id);
CREATE TABLE IF NOT EXISTS inputs (
    seq INTEGER PRIMARY KEY REFERENCES records(seq),
    format TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS lost (day TEXT PRIMARY KEY, dropped INTEGER NOT NULL);
"""

# The columns _record_row derives from a record, in its order (then the record's JSON itself).
_ROW_COLUMNS = ["request_id", "time", "day", "policy_hash", "backend", "status", "opted_out", "minor", "elderly",
                "candidates", "selected", "price_clamped", "price_flagged", *_DROP_COLUMNS]
_INSERT_RECORD = (
    f"INSERT INTO records ({', '.join(_ROW_COLUMNS)}, record) VALUES ({', '.join('?' * (len(_ROW_COLUMNS) + 1))})"
)

_OVERFLOW = ("block", "drop")
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_REQUIRED_KEYS = ("time", "request_id", "policy_hash", "backend", "status", "user", "candidates", "drops", "items")


class AuditLogError(RuntimeError):
    """The audit log cannot take or keep records (closed, or the database failed)."""


# ----------------------------------------------------------------------------------------------
# Records -> rows


def _record_row(record: Mapping[str, Any], text: str) -> tuple:
    user = record["user"]
    items = record["items"]
    clamped = sum(1 for it in items if int(it["reasons"]) & Reason.PRICE_CLAMPED)
    flagged = sum(1 for it in items if int(it["reasons"]) & Reason.PRICE_FLAGGED)
    drops = record["drops"]
    time_text = str(record["time"])
    return (
        str(record["request_id"]), time_text, time_text[:10], str(record["policy_hash"]), str(record["backend"]),
        str(record["status"]), int(bool(user["opted_out"])), int(bool(user["minor"])), int(bool(user["elderly"])),
        int(record["candidates"]), len(items), clamped, flagged,
        *(int(drops.get(rule.name, 0)) for rule in _RULES),
        text,
    )


def _check_record(record: Mapping[str, Any]) -> tuple[dict, str]:
    """Validate a caller-built record on the caller's thread: the writer must never meet a bad one."""
    missing = [key for key in _REQUIRED_KEYS if key not in record]
    if missing:
        raise ValueError(f"record: missing keys {missing}; build records with ranker.record.to_record")
    try:
        text = json.dumps(record, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"record: not JSON-serialisable ({exc})") from None
    record = json.loads(text)
    _record_row(record, text)  # raises on malformed fields
    return record, text


# ----------------------------------------------------------------------------------------------
# Inputs snapshot (caller thread: copies) and archive (writer thread: compression)


def snapshot_inputs(res: Any) -> dict[str, Any]:
    """Copies of everything needed to replay ``res``: arrays by name plus a JSON-able header."""
    arrays: dict[str, np.ndarray] = {}
    cands = res.candidates
    for name in ("item_id", "embedding", "prior", "category", "author", "tag_indptr", "tag_ids", "flags",
                 "min_age", "fraud_risk", "offered_price", "reference_price"):
        value = getattr(cands, name)
        if value is not None:
            arrays[f"c.{name}"] = np.array(value, copy=True)
    user = res.user
    minimised = not user.personalized
    if minimised:  # Art. 17: an opted-out request must not depend on these; do not keep them
        arrays["u.embedding"] = np.zeros_like(user.embedding)
        arrays["u.tag_ids"] = np.zeros(0, np.int32)
        arrays["u.tag_weights"] = np.zeros(0, np.float64)
        arrays["u.deleted_tags"] = np.zeros(0, np.int32)
    else:
        arrays["u.embedding"] = np.array(user.embedding, copy=True)
        arrays["u.tag_ids"] = np.array(user.tag_ids, copy=True)
        arrays["u.tag_weights"] = np.array(user.tag_weights, copy=True)
        arrays["u.deleted_tags"] = np.array(user.deleted_tags, copy=True)
    arrays["u.seen"] = np.array(user.seen, copy=True)
    history = getattr(res, "_history_before", None)
    if history is not None:
        for name in ("categories", "authors", "embeddings"):
            value = getattr(history, name)
            if value is not None:
                arrays[f"h.{name}"] = np.array(value, copy=True)
    for name in ("indices", "scores", "reasons", "prices", "drop_codes"):
        arrays[f"r.{name}"] = np.array(getattr(res, name), copy=True)
    counts = res.counts
    header = {
        "format": INPUTS_FORMAT,
        "policy": res.policy.to_dict(),
        "k": int(res.k),
        "user": {"personalized": bool(user.personalized), "minor_mode": bool(user.minor_mode), "age": user.age,
                 "elderly": bool(user.elderly), "local_minute": user.local_minute,
                 "usage_minutes_today": user.usage_minutes_today, "minimised": minimised},
        "history": history is not None,
        "result": {"status": Status(int(res.status)).name, "backend": str(res.backend),
                   "policy_hash": str(res.policy_hash),
                   "counts": [int(counts[rule]) for rule in Drop],
                   "pin_status": [PinStatus(int(p)).name for p in res.pin_status]},
    }
    return {"arrays": arrays, "header": header}


def pack_inputs(snapshot: Mapping[str, Any]) -> bytes:
    """One compressed ``.npz`` archive: the arrays plus the header as UTF-8 JSON bytes."""
    buffer = io.BytesIO()
    header = np.frombuffer(json.dumps(snapshot["header"], separators=(",", ":")).encode(), dtype=np.uint8)
    np.savez_compressed(buffer, header=header, **snapshot["arrays"])
    return buffer.getvalue()


@dataclasses.dataclass
class StoredRequest:
    """A sampled request rebuilt from the log: its inputs and the result that was served."""

    seq: int
    request_id: str
    record: dict
    candidates: Any
    user: Any
    policy: Any
    k: int
    history: Any
    result: Any
    header: dict


def unpack_inputs(blob: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(arrays.pop("header").tobytes().decode())
    if header.get("format") != INPUTS_FORMAT:
        raise ValueError(f"inputs: unknown format {header.get('format')!r} (this version reads {INPUTS_FORMAT})")
    return header, arrays


def rebuild(seq: int, request_id: str, record: dict, blob: bytes) -> StoredRequest:
    """Candidates, User, Policy, History and the served RankResult of one sampled request."""
    from .data import Candidates, History, User
    from .policy import Policy
    from .result import RankResult

    header, a = unpack_inputs(blob)

    def opt(name: str) -> Optional[np.ndarray]:
        return a.get(name)

    tags = None
    if "c.tag_indptr" in a:
        tags = (a["c.tag_indptr"], a["c.tag_ids"])
    cands = Candidates(
        a["c.item_id"], a["c.embedding"], a["c.prior"], category=opt("c.category"), author=opt("c.author"),
        tags=tags, flags=opt("c.flags"), min_age=opt("c.min_age"), fraud_risk=opt("c.fraud_risk"),
        offered_price=opt("c.offered_price"), reference_price=opt("c.reference_price"))
    u = header["user"]
    user = User(a["u.embedding"], (a["u.tag_ids"], a["u.tag_weights"]), personalized=u["personalized"],
                deleted_tags=a["u.deleted_tags"], minor_mode=u["minor_mode"], age=u["age"], elderly=u["elderly"],
                local_minute=u["local_minute"], usage_minutes_today=u["usage_minutes_today"], seen=a["u.seen"])
    policy = Policy.from_dict(header["policy"])
    history = None
    if header["history"]:
        history = History(opt("h.categories"), opt("h.authors"), opt("h.embeddings"))
    stored = header["result"]
    result = RankResult(
        status=int(Status[stored["status"]]), indices=a["r.indices"], scores=a["r.scores"],
        reasons=a["r.reasons"], prices=a["r.prices"], drop_codes=a["r.drop_codes"],
        counts=np.asarray(stored["counts"], dtype=np.int64),
        pin_status=np.asarray([int(PinStatus[p]) for p in stored["pin_status"]], dtype=np.int64),
        backend=stored["backend"], k=int(header["k"]), candidates=cands, user=user, policy=policy,
        history=history)
    return StoredRequest(seq, request_id, record, cands, user, policy, int(header["k"]), history, result, header)


# ----------------------------------------------------------------------------------------------
# The log


class _Marker:
    """A flush request travelling through the queue behind every record written before it."""

    __slots__ = ("event", "written", "error")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.written = 0
        self.error: Optional[BaseException] = None


_OPEN_LOGS: "weakref.WeakSet[AuditLog]" = weakref.WeakSet()


@atexit.register
def _close_open_logs() -> None:  # records written before a normal exit are not lost
    for log in list(_OPEN_LOGS):
        try:
            log.close()
        except Exception:
            pass


class AuditLog:
    """A durable, thread-safe sink for audit records, backed by SQLite (WAL mode).

    Parameters
    ----------
    path:
        The database file; created with its tables when missing. Several processes may share
        one file (SQLite serialises their writes).
    queue_size:
        Records that may wait for the writer (default 10000).
    overflow:
        ``"block"`` (default): ``write`` waits for room. ``"drop"``: ``write`` returns False at
        once; the record is counted in :attr:`dropped` and in the database's ``lost`` table.
    batch_size:
        Most records per transaction (default 512). Batches form by themselves under load.
    sample_inputs:
        Share of requests, in [0, 1], whose full inputs are stored for :func:`verify`.
    seed:
        Seed of the sampling draw (None: from the OS).
    synchronous:
        SQLite's ``synchronous`` setting; ``"FULL"`` (default) keeps flushed records through a
        power cut, ``"NORMAL"`` through a process crash only.
    busy_timeout:
        Seconds a write waits for another process's write lock before it fails.
    """

    def __init__(self, path: Any, *, queue_size: int = 10_000, overflow: str = "block", batch_size: int = 512,
                 sample_inputs: float = 0.0, seed: Optional[int] = None, synchronous: str = "FULL",
                 busy_timeout: float = 30.0) -> None:
        if overflow not in _OVERFLOW:
            raise ValueError(f"overflow: expected one of {_OVERFLOW}, got {overflow!r}")
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ValueError(f"queue_size: expected an int >= 1, got {queue_size!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
        if not isinstance(sample_inputs, (int, float)) or not 0.0 <= float(sample_inputs) <= 1.0:
            raise ValueError(f"sample_inputs: expected a share in [0, 1], got {sample_inputs!r}")
        sync = str(synchronous).upper()
        if sync not in _SYNCHRONOUS:
            raise ValueError(f"synchronous: expected one of {_SYNCHRONOUS}, got {synchronous!r}")
        self.path = Path(path)
        self.overflow = overflow
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.sample_inputs = float(sample_inputs)
        self._rng = random.Random(seed)
        self._conn = _open_for_writing(self.path, sync, busy_timeout)

        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._buffer: collections.deque = collections.deque()
        self._queued = 0            # records in the buffer (markers do not count)
        self._accepted = 0          # records write() took
        self._written = 0           # records committed
        self._dropped = 0           # records refused under overflow="drop" (or lost to a failure)
        self._sampled = 0           # records whose inputs were kept
        self._lost_pending: dict[str, int] = {}
        self._error: Optional[BaseException] = None
        self._closing = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"ranker-audit:{self.path.name}", daemon=True)
        self._thread.start()
        _OPEN_LOGS.add(self)

    # -- producer side -----------------------------------------------------------------------

    def write(self, result: Any, *, request_id: Any = None, sample: Optional[bool] = None) -> bool:
        """Queue the record of ``result`` (a RankResult, or a record dict from ``to_record``).

        Returns True when queued; False only under ``overflow="drop"`` with a full queue (the
        record is then counted as lost). ``sample`` forces (True) or prevents (False) storing
        this request's inputs; None draws with probability ``sample_inputs``. Raises
        :class:`AuditLogError` when the log is closed or its database failed.
        """
        if isinstance(result, Mapping):
            if sample:
                raise ValueError("sample: inputs can be kept only for a RankResult, not for a record dict")
            if request_id is not None:
                result = {**result, "request_id": str(request_id)}
            record, text = _check_record(result)
            snapshot = None
            day = str(record["time"])[:10]
        else:  # the record itself is built on the writer thread, from a capture taken now
            from .result import RankResult

            if not isinstance(result, RankResult):
                raise TypeError(f"result: expected a ranker.RankResult or a record dict from to_record, "
                                f"got {type(result).__name__}")
            record, text = Capture(result, request_id), None
            if sample is None:
                sample = self.sample_inputs > 0.0 and self._rng.random() < self.sample_inputs
            snapshot = snapshot_inputs(result) if sample else None
            day = record.time[:10]
        item = (record, text, snapshot)
        with self._lock:
            while True:
                self._raise_if_unusable()
                if self._queued < self.queue_size:
                    break
                if self.overflow == "drop":
                    self._dropped += 1
                    self._lost_pending[day] = self._lost_pending.get(day, 0) + 1
                    self._not_empty.notify()
                    return False
                self._not_full.wait()
            self._buffer.append(item)
            self._queued += 1
            self._accepted += 1
            self._not_empty.notify()
        return True

    def flush(self, timeout: Optional[float] = None) -> int:
        """Wait until every record written before this call is committed; returns the number of
        records this log has committed so far. Raises :class:`AuditLogError` if the database
        failed, ``TimeoutError`` after ``timeout`` seconds."""
        marker = _Marker()
        with self._lock:
            if self._closed:
                raise AuditLogError(f"audit log {self.path} is closed")
            self._raise_if_failed()
            closing = self._closing
            if not closing:
                self._buffer.append(marker)
                self._not_empty.notify()
        if closing:  # close() in progress on another thread: it commits everything; wait for it
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"audit log {self.path}: flush did not finish within {timeout} s")
            self._raise_if_failed()
            return self._written
        if not marker.event.wait(timeout):
            raise TimeoutError(f"audit log {self.path}: flush did not finish within {timeout} s")
        if marker.error is not None:
            raise AuditLogError(f"audit log {self.path}: writing failed: {marker.error!r}") from marker.error
        return marker.written

    def close(self) -> None:
        """Flush, stop the writer and close the database. Idempotent; raises if records could
        not be written."""
        with self._lock:
            if self._closed:
                return
            self._closing = True
            self._not_empty.notify()
            self._not_full.notify_all()
        self._thread.join()
        with self._lock:
            self._closed = True
        _OPEN_LOGS.discard(self)
        self._raise_if_failed()

    def __enter__(self) -> "AuditLog":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def dropped(self) -> int:
        """Records refused because the queue was full (``overflow="drop"``) or lost to a failure."""
        return self._dropped

    @property
    def written(self) -> int:
        """Records committed to the database."""
        return self._written

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"accepted": self._accepted, "written": self._written, "queued": self._queued,
                    "dropped": self._dropped, "sampled": self._sampled}

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise AuditLogError(f"audit log {self.path}: writing failed: {self._error!r}") from self._error

    def _raise_if_unusable(self) -> None:
        if self._closing or self._closed:
            raise AuditLogError(f"audit log {self.path} is closed")
        self._raise_if_failed()

    # -- writer thread -----------------------------------------------------------------------

    def _take(self) -> tuple[list, list, dict[str, int], bool]:
        with self._lock:
            while not self._buffer and not self._lost_pending and not self._closing:
                self._not_empty.wait()
            records: list = []
            markers: list = []
            while self._buffer and len(records) < self.batch_size:
                item = self._buffer.popleft()
                if isinstance(item, _Marker):
                    markers.append(item)
                    if records:  # commit what precedes the marker before answering it
                        break
                else:
                    records.append(item)
            self._queued -= len(records)
            lost = self._lost_pending
            self._lost_pending = {}
            stop = self._closing and not self._buffer
            self._not_full.notify_all()
        return records, markers, lost, stop

    def _run(self) -> None:
        conn = self._conn
        try:
            while True:
                records, markers, lost, stop = self._take()
                if records or lost:
                    try:
                        sampled = self._commit(conn, records, lost)
                    except BaseException as exc:  # keep it, answer every waiter, refuse new records
                        self._fail(exc, records, lost, markers)
                        return
                    with self._lock:
                        self._written += len(records)
                        self._sampled += sampled
                with self._lock:
                    written = self._written
                for marker in markers:
                    marker.written = written
                    marker.event.set()
                if stop:
                    return
        finally:
            try:
                conn.close()
            except Exception:
                pass

    def _fail(self, exc: BaseException, records: list, lost: dict[str, int], markers: list) -> None:
        with self._lock:
            self._error = exc
            pending = [item for item in self._buffer if not isinstance(item, _Marker)]
            markers = markers + [item for item in self._buffer if isinstance(item, _Marker)]
            self._buffer.clear()
            self._dropped += len(records) + len(pending)
            self._queued = 0
            self._not_full.notify_all()
        for marker in markers:
            marker.error = exc
            marker.event.set()

    def _commit(self, conn: sqlite3.Connection, records: list, lost: Mapping[str, int]) -> int:
        rows = []
        for record, text, snapshot in records:  # build, serialise and compress outside the write lock
            if isinstance(record, Capture):
                record = record.record()
            if text is None:
                text = json.dumps(record, separators=(",", ":"), allow_nan=False)
            blob = pack_inputs(snapshot) if snapshot is not None else None
            rows.append((_record_row(record, text), blob))
        delay = 0.05
        for attempt in range(6):
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for row, blob in rows:
                        seq = conn.execute(_INSERT_RECORD, row).lastrowid
                        if blob is not None:
                            conn.execute("INSERT INTO inputs (seq, format, data) VALUES (?, ?, ?)",
                                         (seq, INPUTS_FORMAT, blob))
                    for day, count in lost.items():
                        conn.execute("INSERT INTO lost (day, dropped) VALUES (?, ?) "
                                     "ON CONFLICT(day) DO UPDATE SET dropped = dropped + excluded.dropped",
                                     (day, count))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                return sum(1 for _, blob in rows if blob is not None)
            except sqlite3.OperationalError as exc:  # busy or locked beyond busy_timeout: retry a few times
                if attempt == 5 or "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover


def _open_for_writing(path: Path, synchronous: str, busy_timeout: float) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise AuditLogError(f"audit log {path}: cannot open the database ({exc})") from exc
    try:
        # A database of something else is refused before anything is written into it.
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise AuditLogError(f"audit log {path}: the file is an SQLite database of something else "
                                f"(tables {sorted(tables)}); give the audit log a file of its own")
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise AuditLogError(f"audit log {path}: SQLite refused WAL mode (got {mode!r}); use a file on a local disk")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA_SQL + "COMMIT;")
        found = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if found is None:
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (DB_SCHEMA,))
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('created_by', ?)",
                         (f"ranker {package_version()}",))
        elif found[0] != DB_SCHEMA:
            raise AuditLogError(f"audit log {path}: database schema {found[0]!r}, this version writes {DB_SCHEMA!r}")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise AuditLogError(f"audit log {path}: cannot use the file ({exc})") from exc
    except BaseException:
        conn.close()
        raise
    return conn


# ----------------------------------------------------------------------------------------------
# Reading


def open_readonly(path: Any) -> sqlite3.Connection:
    """A read-only connection to an existing audit log (never creates a file)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"audit log {p}: no such file")
    conn = sqlite3.connect(f"file:{p.resolve()}?mode=ro", uri=True, timeout=30.0)
    try:
        conn.execute("PRAGMA query_only=ON")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"records", "inputs", "lost", "meta"} <= tables:
            raise ValueError(f"audit log {p}: not a ranker audit log (tables found: {sorted(tables)})")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ValueError(f"audit log {p}: not a readable SQLite database ({exc})") from None
    except BaseException:
        conn.close()
        raise
    return conn


def iter_records(path: Any, *, day: Optional[str] = None) -> Iterator[dict]:
    """The stored records in write order (optionally of one UTC day, ``YYYY-MM-DD``)."""
    conn = open_readonly(path)
    try:
        if day is None:
            rows = conn.execute("SELECT record FROM records ORDER BY seq")
        else:
            rows = conn.execute("SELECT record FROM records WHERE day = ? ORDER BY seq", (day,))
        for (text,) in rows:
            yield json.loads(text)
    finally:
        conn.close()


# ----------------------------------------------------------------------------------------------
# Shadow verification


_OUTCOMES = ("equivalent", "tie", "divergent", "error")


@dataclasses.dataclass
class VerifyFinding:
    seq: int
    request_id: str
    outcome: str            # "equivalent", "tie", "divergent", "error"
    details: list[str]


@dataclasses.dataclass
class VerifyReport:
    """What :func:`verify` found: one finding per sampled request."""

    path: str
    total_records: int
    sampled: int
    findings: list[VerifyFinding]
    #: Problems of the log as a whole: SQLite's own check, missing records, indexed columns that
    #: contradict their record, inputs without a record.
    log_problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def checked(self) -> int:
        return len(self.findings)

    def count(self, outcome: str) -> int:
        return sum(1 for f in self.findings if f.outcome == outcome)

    @property
    def ok(self) -> bool:
        """No problem in the log, at least one sampled request, and every one equivalent (ties allowed)."""
        return (not self.log_problems and self.checked > 0
                and all(f.outcome in ("equivalent", "tie") for f in self.findings))

    def to_dict(self) -> dict[str, Any]:
        return {"log": self.path, "records": self.total_records, "sampled": self.sampled, "checked": self.checked,
                "ok": self.ok, "outcomes": {o: self.count(o) for o in _OUTCOMES},
                "log_problems": list(self.log_problems),
                "findings": [{"seq": f.seq, "request_id": f.request_id, "outcome": f.outcome,
                              "details": [str(d) for d in f.details]} for f in self.findings]}

    def format(self, verbose: bool = False) -> str:
        lines = [f"audit log {self.path}: {self.total_records} records, {self.sampled} with sampled inputs, "
                 f"{self.checked} checked"]
        if self.log_problems:
            lines.append(f"  problems in the log:    {len(self.log_problems)}")
            lines.extend(f"      {p}" for p in _describe_items(self.log_problems, limit=20))
        if not self.findings:
            lines.append("nothing to verify: no request was sampled (write with AuditLog(..., sample_inputs=p))"
                         if not self.sampled else "no sampled request was replayed (limit 0)")
            if self.log_problems:
                lines.append("result: FAILED")
            return "\n".join(lines)
        lines.append(f"  equivalent:             {self.count('equivalent')}")
        lines.append(f"  equivalent within ties: {self.count('tie')}")
        lines.append(f"  divergent:              {self.count('divergent')}")
        lines.append(f"  unreadable:             {self.count('error')}")
        for f in self.findings:
            if f.outcome in ("divergent", "error") or (verbose and f.details):
                lines.append(f"  [{f.outcome}] record {f.seq} (request {f.request_id}):")
                lines.extend(f"      {d}" for d in f.details)
        lines.append("result: " + ("OK, every sampled result is certified equivalent to the reference"
                                   if self.ok else "FAILED"))
        return "\n".join(lines)


def _record_consistency(stored: StoredRequest) -> list[str]:
    """The stored record must describe the stored result (ids, reasons, counts, status, hash)."""
    problems = []
    rec, res = stored.record, stored.result
    ids = [int(it["item_id"]) for it in rec.get("items", [])]
    if ids != [int(x) for x in res.item_ids.tolist()]:
        problems.append(f"record items {ids[:10]}... differ from the stored result's {res.item_ids.tolist()[:10]}...")
    bits = [int(it["reasons"]) for it in rec.get("items", [])]
    if bits != [int(x) for x in res.reasons.tolist()]:
        problems.append("record reason bits differ from the stored result's")
    counts = {rule.name: int(res.counts[rule]) for rule in _RULES}
    if {k: int(v) for k, v in rec.get("drops", {}).items()} != counts:
        problems.append(f"record drop counts {rec.get('drops')} differ from the stored result's {counts}")
    if rec.get("status") != res.status.name:
        problems.append(f"record status {rec.get('status')} differs from the stored result's {res.status.name}")
    if stored.policy.hash != rec.get("policy_hash"):
        problems.append(f"the stored policy hashes to {stored.policy.hash[:16]}, the record says "
                        f"{str(rec.get('policy_hash'))[:16]}: the replay would not use the policy in force")
    if problems:
        return problems
    # Every other field too: the record the stored result gives, with the record's own time and
    # request id, and its version (the code that wrote it may be older than this one).
    expected = Capture(res, rec.get("request_id"), rec.get("time")).record()
    expected["version"] = rec.get("version")
    for key in sorted(set(expected) | set(rec)):
        if key == "items":
            for slot, (want, got) in enumerate(zip(expected["items"], rec.get("items", []))):
                if want != got:
                    problems.append(f"record items[{slot}] is {got}, the stored result gives {want}")
                    break
        elif expected.get(key) != rec.get(key):
            problems.append(f"record {key} is {rec.get(key)!r}, the stored result gives {expected.get(key)!r}")
    return problems


def _describe_items(items: Sequence[Any], limit: int = 5) -> list[str]:
    out = [str(x) for x in list(items)[:limit]]
    if len(items) > limit:
        out.append(f"... and {len(items) - limit} more")
    return out


def verify(path: Any, *, limit: Optional[int] = None, certify: Any = None) -> VerifyReport:
    """Replay every sampled request of the log through the reference and check the stored result
    by the certificate rule (``ranker.compare.certify``), plus the record's consistency with it.

    ``certify`` replaces ``ranker.compare.certify`` (tests use it); ``limit`` caps the number of
    sampled requests checked (the newest are skipped; 0 checks the log without replaying).
    Whole-log problems (see :func:`_log_problems`) fail the verification too. A damaged
    database raises ``ValueError`` naming the file.
    """
    if certify is None:
        from .compare import certify
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit: expected a number of sampled requests >= 0, got {limit!r}")
    conn = open_readonly(path)
    findings: list[VerifyFinding] = []
    try:
        log_problems = _log_problems(conn)
        total = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        sampled = conn.execute("SELECT COUNT(*) FROM inputs").fetchone()[0]
        query = ("SELECT r.seq, r.request_id, r.record, i.data FROM inputs i JOIN records r ON r.seq = i.seq "
                 "ORDER BY r.seq")
        if limit is not None:
            query += f" LIMIT {limit}"
        for seq, request_id, text, blob in conn.execute(query):
            try:
                stored = rebuild(seq, request_id, json.loads(text), blob)
                problems = _record_consistency(stored)
                cmp = certify(stored.result, stored.candidates, stored.user, stored.policy, stored.k,
                              stored.history)
            except Exception as exc:  # an unreadable sample is reported, never skipped
                findings.append(VerifyFinding(seq, request_id, "error", [f"{type(exc).__name__}: {exc}"]))
                continue
            ties = list(getattr(cmp, "ties", []) or [])
            divergences = list(getattr(cmp, "divergences", []) or [])
            if problems or not cmp.equivalent:
                findings.append(VerifyFinding(seq, request_id, "divergent", problems + _describe_items(divergences)))
            elif ties:
                findings.append(VerifyFinding(seq, request_id, "tie", _describe_items(ties)))
            else:
                findings.append(VerifyFinding(seq, request_id, "equivalent", []))
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"audit log {path}: the database is damaged ({exc}); restore it from a copy, "
                         f"or see what survives with `sqlite3 {path} .recover`") from None
    finally:
        conn.close()
    return VerifyReport(str(path), int(total), int(sampled), findings, log_problems)


def _log_problems(conn: sqlite3.Connection) -> list[str]:
    """What is wrong with the log as a whole, without replaying anything: SQLite's own page
    check, gaps in the record sequence, indexed columns that contradict their record's JSON
    (the report reads the columns), and sampled inputs whose record is gone.

    These are consistency checks, not tamper-proofing: whoever can write the file can rewrite
    a record together with its columns, or remove the newest records and their inputs."""
    problems = [f"SQLite quick_check: {row[0]}" for row in conn.execute("PRAGMA quick_check")
                if row[0] != "ok"][:10]
    previous = 0
    for row in conn.execute(f"SELECT seq, {', '.join(_ROW_COLUMNS)}, record FROM records ORDER BY seq"):
        seq, stored, text = row[0], row[1:-1], row[-1]
        if seq != previous + 1:
            missing = f"record {previous + 1} is" if seq == previous + 2 else f"records {previous + 1} to {seq - 1} are"
            problems.append(f"{missing} missing (deleted from the log)")
        previous = seq
        try:
            derived = _record_row(json.loads(text), text)[:-1]
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"record {seq}: unreadable ({type(exc).__name__}: {exc})")
            continue
        for name, have, want in zip(_ROW_COLUMNS, stored, derived):
            if have != want:
                problems.append(f"record {seq}: column {name} is {have!r}, its record says {want!r}")
    for (seq,) in conn.execute("SELECT seq FROM inputs WHERE seq NOT IN (SELECT seq FROM records) ORDER BY seq"):
        problems.append(f"inputs {seq} have no record (the record was deleted)")
    return problems


# ----------------------------------------------------------------------------------------------
# Report


@dataclasses.dataclass
class DayStats:
    """One UTC day of the log."""

    day: str
    requests: int
    opted_out: int
    minor: int
    elderly: int
    curfew: int
    daily_limit: int
    price_clamped: int
    price_flagged: int
    candidates: int
    selected: int
    drops: dict[str, int]
    sampled: int
    lost: int

    @property
    def opted_out_share(self) -> float:
        return self.opted_out / self.requests if self.requests else 0.0

    @property
    def minor_share(self) -> float:
        return self.minor / self.requests if self.requests else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["opted_out_share"] = self.opted_out_share
        out["minor_share"] = self.minor_share
        return out


def report(path: Any, *, since: Optional[str] = None, until: Optional[str] = None) -> list[DayStats]:
    """Per UTC day (``since`` <= day <= ``until``, ``YYYY-MM-DD``, both optional), in day order."""
    conn = open_readonly(path)
    try:
        where, params = [], []
        if since:
            where.append("day >= ?")
            params.append(since)
        if until:
            where.append("day <= ?")
            params.append(until)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        sums = ", ".join(f"SUM({c})" for c in _DROP_COLUMNS)
        rows = conn.execute(
            "SELECT day, COUNT(*), SUM(opted_out), SUM(minor), SUM(elderly), SUM(status = 'CURFEW'), "
            "SUM(status = 'DAILY_LIMIT'), SUM(price_clamped), SUM(price_flagged), SUM(candidates), SUM(selected), "
            f"{sums} FROM records{clause} GROUP BY day", params).fetchall()
        sampled = dict(conn.execute(
            f"SELECT day, COUNT(*) FROM records JOIN inputs USING (seq){clause} GROUP BY day", params).fetchall())
        lost = dict(conn.execute(f"SELECT day, dropped FROM lost{clause}", params).fetchall())
    finally:
        conn.close()
    days: dict[str, DayStats] = {}
    for row in rows:
        day, requests, opted, minor, elderly, curfew, daily, clamped, flagged, ncand, nsel = row[:11]
        drops = {rule.name: int(v or 0) for rule, v in zip(_RULES, row[11:])}
        days[day] = DayStats(day, int(requests), int(opted or 0), int(minor or 0), int(elderly or 0),
                             int(curfew or 0), int(daily or 0), int(clamped or 0), int(flagged or 0),
                             int(ncand or 0), int(nsel or 0), drops, int(sampled.get(day, 0)), 0)
    for day, count in lost.items():  # a day may have lost records and none written
        if day not in days:
            days[day] = DayStats(day, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {r.name: 0 for r in _RULES}, 0, 0)
        days[day].lost = int(count)
    return [days[d] for d in sorted(days)]


_RULE_LABELS = {
    Drop.DUPLICATE: "duplicate", Drop.BLOCKED: "blocked", Drop.UNLABELED_SYNTHETIC: "unlabelled synth.",
    Drop.MINOR_AGE: "age rating", Drop.MINOR_HARMFUL: "harmful (minor)", Drop.FRAUD_RISK: "fraud risk",
    Drop.PRICE_PARITY: "price parity", Drop.DELETED_TAG: "deleted tag", Drop.SEEN: "seen",
}


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _pct(x: float) -> str:
    return f"{100.0 * x:.1f}%"


def _totals(days: Sequence[DayStats]) -> DayStats:
    total = DayStats("total", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {r.name: 0 for r in _RULES}, 0, 0)
    for d in days:
        for f in ("requests", "opted_out", "minor", "elderly", "curfew", "daily_limit", "price_clamped",
                  "price_flagged", "candidates", "selected", "sampled", "lost"):
            setattr(total, f, getattr(total, f) + getattr(d, f))
        for name, v in d.drops.items():
            total.drops[name] += v
    return total


def format_report(days: Sequence[DayStats]) -> str:
    """The report as two plain-text tables: requests and protections per day, drops per rule."""
    if not days:
        return "no records"
    rows_all = list(days) + ([_totals(days)] if len(days) > 1 else [])
    head = ["day", "requests", "opted out", "minor mode", "curfew", "daily limit", "price clamps",
            "price flags", "sampled", "lost"]
    rows = [[d.day, str(d.requests), _pct(d.opted_out_share), _pct(d.minor_share), str(d.curfew),
             str(d.daily_limit), str(d.price_clamped), str(d.price_flagged), str(d.sampled), str(d.lost)]
            for d in rows_all]
    out = ["Requests and protections per day (UTC)", *_table(head, rows), "",
           "Candidates removed per rule"]
    head2 = ["day", *(_RULE_LABELS[r] for r in _RULES)]
    rows2 = [[d.day, *(str(d.drops[r.name]) for r in _RULES)] for d in rows_all]
    out += _table(head2, rows2)
    if any(d.lost for d in days):
        out += ["", "WARNING: records were lost (audit queue full under overflow='drop'); see the 'lost' column."]
    return "\n".join(out)


# Colours for the charts (colour-blind friendly, Okabe-Ito).
_PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999"]


def _nice(peak: float) -> float:
    """The smallest of 1, 2, 4, 5 or 10 times a power of ten at or above ``peak`` (axis top)."""
    if peak <= 0:
        return 1.0
    scale = 10.0 ** math.floor(math.log10(peak))
    for m in (1.0, 2.0, 4.0, 5.0, 10.0):
        if m * scale >= peak * (1 - 1e-12):
            return m * scale
    return 10.0 * scale


def _svg_bars(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
              stacked: bool = False, percent: bool = False, width: int = 760, height: int = 240) -> str:
    """A bar chart (grouped, or stacked) as inline SVG, with a legend and hover titles."""
    esc = html.escape
    # Legend entries flow into rows under the plot.
    legend, lx, row = [], 0.0, 0
    for j, (name, _) in enumerate(series):
        w = 24 + 6.5 * len(name)
        if lx + w > width - 60 and lx > 0:
            lx, row = 0.0, row + 1
        legend.append((j, name, lx, row))
        lx += w
    left, right, top, bottom = 56, 12, 30, 30 + 18 * (row + 1)
    height += 18 * row
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(1, len(labels))
    if stacked:
        peak = max([sum(float(s[1][i]) for s in series) for i in range(len(labels))] or [0])
    else:
        peak = max([max((float(v) for v in values), default=0) for _, values in series] or [0])
    peak = _nice(peak * 100) / 100 if percent else _nice(peak)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
             f'<text x="{left}" y="18" font-size="14" font-weight="bold">{esc(title)}</text>']
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):  # grid and axis labels
        y = top + plot_h * (1 - frac)
        value = peak * frac
        label = f"{100 * value:g}%" if percent else f"{value:g}"
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{label}</text>')
    group_w = plot_w / n
    inner = group_w * 0.8
    bar_w = inner if stacked else inner / max(1, len(series))
    step = max(1, n // 15)  # at most about 15 day labels
    for i, label in enumerate(labels):
        x0 = left + group_w * i + group_w * 0.1
        base = 0.0
        for j, (name, values) in enumerate(series):
            v = float(values[i])
            h = plot_h * v / peak
            if stacked:
                x, y = x0, top + plot_h - plot_h * (base + v) / peak
                base += v
            else:
                x, y = x0 + bar_w * j, top + plot_h - h
            shown = f"{100 * v:.1f}%" if percent else f"{v:g}"
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" '
                         f'fill="{_PALETTE[j % len(_PALETTE)]}"><title>{esc(label)} · {esc(name)}: {shown}</title></rect>')
        if i % step == 0:
            cx = left + group_w * (i + 0.5)
            parts.append(f'<text x="{cx:.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle">'
                         f'{esc(label[5:] if len(label) == 10 else label)}</text>')
    for j, name, x, r in legend:
        y = top + plot_h + 24 + 18 * r
        parts.append(f'<rect x="{left + x:.1f}" y="{y}" width="10" height="10" fill="{_PALETTE[j % len(_PALETTE)]}"/>')
        parts.append(f'<text x="{left + x + 14:.1f}" y="{y + 9}" font-size="11">{esc(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def report_html(days: Sequence[DayStats], *, title: str = "ranker audit report", source: str = "") -> str:
    """The report as one self-contained HTML page: inline CSS and SVG charts, no script, no network."""
    esc = html.escape
    labels = [d.day for d in days]
    charts = []
    if days:
        charts.append(_svg_bars("Requests per day", labels, [("requests", [d.requests for d in days])]))
        charts.append(_svg_bars("Share of requests in a protected mode", labels,
                                [("opted out", [d.opted_out_share for d in days]),
                                 ("minor mode", [d.minor_share for d in days])], percent=True))
        charts.append(_svg_bars("Candidates removed per rule", labels,
                                [(_RULE_LABELS[r], [d.drops[r.name] for d in days]) for r in _RULES], stacked=True))
        charts.append(_svg_bars("Refusals and price corrections", labels,
                                [("curfew", [d.curfew for d in days]), ("daily limit", [d.daily_limit for d in days]),
                                 ("price clamps", [d.price_clamped for d in days]),
                                 ("price flags", [d.price_flagged for d in days])]))
    rows_all = list(days) + ([_totals(days)] if len(days) > 1 else [])

    def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
        th = "".join(f"<th>{esc(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"

    t1 = table(["day", "requests", "opted out", "minor mode", "elderly", "curfew", "daily limit", "price clamps",
                "price flags", "sampled inputs", "lost records"],
               [[d.day, str(d.requests), _pct(d.opted_out_share), _pct(d.minor_share), str(d.elderly),
                 str(d.curfew), str(d.daily_limit), str(d.price_clamped), str(d.price_flagged), str(d.sampled),
                 str(d.lost)] for d in rows_all])
    t2 = table(["day", "candidates", "selected", *(_RULE_LABELS[r] for r in _RULES)],
               [[d.day, str(d.candidates), str(d.selected), *(str(d.drops[r.name]) for r in _RULES)]
                for d in rows_all])
    warning = ""
    if any(d.lost for d in days):
        warning = ('<p class="warn">Records were lost: the audit queue was full under overflow="drop". '
                   "The lost column counts them per day.</p>")
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#222;max-width:1100px}}
table{{border-collapse:collapse;margin:1em 0;font-size:13px}}
th,td{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
th:first-child,td:first-child{{text-align:left}}
tbody tr:last-child td{{font-weight:{"bold" if len(days) > 1 else "normal"}}}
.warn{{color:#a00;font-weight:bold}} svg{{display:block;margin:1em 0}} .meta{{color:#666;font-size:12px}}
</style></head><body>
<h1>{esc(title)}</h1>
<p class="meta">Source: {esc(source)} · generated {generated} by ranker {esc(package_version())} ·
days are UTC · {len(days)} day(s)</p>
{warning}
<h2>Requests and protections per day</h2>
{t1}
{''.join(charts[:2])}
<h2>Candidates removed per rule</h2>
{t2}
{''.join(charts[2:])}
<p class="meta">Curfew and daily limit count requests refused in minor mode (Art. 18); price clamps and flags
count served slots whose price was corrected or flagged (Art. 21); drops count candidates removed by each
eligibility rule (docs/semantics.md, step 1). Sampled inputs can be replayed with
<code>ranker audit verify</code>.</p>
</body></html>
"""


__all__ = [
    "AuditLog", "AuditLogError", "DayStats", "VerifyFinding", "VerifyReport", "format_report", "iter_records",
    "open_readonly", "rebuild", "report", "report_html", "snapshot_inputs", "verify",
]
