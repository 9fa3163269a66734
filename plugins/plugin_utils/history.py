# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's record of every tuning run: one SQLite file in WAL mode.

WAL lets Ansible's forks record their hosts at the same time while a report
reads. The schema (docs/history.md) is plain tables a person can query with
the sqlite3 shell; SCHEMA_VERSION says which shape a file has.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import json
import math
import os
import sqlite3
import time
from datetime import datetime, timezone
from urllib.parse import quote

SCHEMA_VERSION = 1
OUTCOMES = ("kept", "rolled_back", "unchanged", "checked", "failed", "lost", "not_reached")
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, started TEXT NOT NULL, finished TEXT, status TEXT NOT NULL,
    playbook TEXT, alpha REAL, min_effect REAL, summary TEXT);
CREATE TABLE IF NOT EXISTS hosts (
    run_id TEXT NOT NULL REFERENCES runs(id), host TEXT NOT NULL, recorded TEXT NOT NULL,
    wave INTEGER, profile TEXT, transaction_id TEXT, outcome TEXT NOT NULL, verdict TEXT, reason TEXT,
    PRIMARY KEY (run_id, host));
CREATE TABLE IF NOT EXISTS settings (
    run_id TEXT NOT NULL, host TEXT NOT NULL, identity TEXT NOT NULL, before TEXT, after TEXT,
    PRIMARY KEY (run_id, host, identity));
CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT NOT NULL, host TEXT NOT NULL, phase TEXT NOT NULL CHECK (phase IN ('baseline', 'after')),
    metric TEXT NOT NULL, trial INTEGER NOT NULL, value REAL NOT NULL, unit TEXT, better TEXT);
CREATE TABLE IF NOT EXISTS trials (
    run_id TEXT NOT NULL, host TEXT NOT NULL, phase TEXT NOT NULL, suite TEXT NOT NULL, trial INTEGER NOT NULL,
    started TEXT, seconds REAL, load1 REAL, cpu_mhz REAL, busy_pct REAL, steal_pct REAL, error TEXT);
CREATE TABLE IF NOT EXISTS verdicts (
    run_id TEXT NOT NULL, host TEXT NOT NULL, metric TEXT NOT NULL, gate INTEGER NOT NULL, verdict TEXT NOT NULL,
    baseline_median REAL, after_median REAL, effect REAL, p_value REAL, reason TEXT,
    PRIMARY KEY (run_id, host, metric));
CREATE INDEX IF NOT EXISTS samples_by_host ON samples (host, metric);
CREATE INDEX IF NOT EXISTS hosts_by_host ON hosts (host, recorded);
"""


# What a read-only query may do. mode=ro covers the history file alone: ATTACH and VACUUM INTO would create and
# write any file the controller's user may, so everything but reading is refused by the authorizer.
_READS = frozenset((sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE))
_UNSAFE_FUNCTIONS = frozenset(("load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"))


def _only_reads(action, first, second, database, trigger):
    if action in _READS and not (action == sqlite3.SQLITE_FUNCTION and (second or "").lower() in _UNSAFE_FUNCTIONS):
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


class HistoryError(Exception):
    """The store cannot be opened or written; the message names the file."""


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id():
    return "%s-%s" % (datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
                      binascii.hexlify(os.urandom(3)).decode("ascii"))


def check_writable(path):
    """Fail as a real run would, without creating anything: the file, or the directory it would be made in."""
    path = os.path.abspath(path)
    existing = path
    while not os.path.lexists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if existing == path and not os.path.isfile(path):
        raise HistoryError("history %s: not a regular file" % path)
    if existing != path and not os.path.isdir(existing):
        raise HistoryError("history %s: %s is not a directory (set hostperf_history to a file you own)"
                           % (path, existing))
    if not os.access(existing, os.W_OK) or os.statvfs(existing).f_flag & os.ST_RDONLY:
        raise HistoryError("history %s: %s is not writable by uid %d (set hostperf_history to a path you own)"
                           % (path, existing, os.geteuid()))


class History:
    """One history file; every write is one SQLite transaction."""

    def __init__(self, path, readonly=False):
        self.path = os.path.abspath(path)
        directory = os.path.dirname(self.path)
        if os.path.lexists(self.path) and not os.path.isfile(self.path):
            raise HistoryError("history %s: not a regular file" % self.path)
        if readonly:
            if not os.path.exists(self.path):
                raise HistoryError("history %s: no such file (nothing was recorded there yet)" % self.path)
            try:
                # A URI: '?', '#' and '%' in the path must be quoted, or another file opens read-write.
                self.db = sqlite3.connect("file:%s?mode=ro" % quote(self.path, safe="/"), uri=True, timeout=30)
                self.db.set_authorizer(_only_reads)
            except sqlite3.Error as exc:
                raise HistoryError("history %s: %s" % (self.path, exc))
            return
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o700)
            if not os.path.exists(self.path):
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            with self.db:
                self.db.executescript(SCHEMA)
                found = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                if found is None:
                    self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                elif int(found[0]) != SCHEMA_VERSION:
                    raise HistoryError("%s has history schema %s; this collection writes %d"
                                       % (self.path, found[0], SCHEMA_VERSION))
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError("history %s: %s" % (self.path, exc))

    def close(self):
        self.db.close()

    def _write(self, statements):
        try:
            with self.db:
                for sql, rows in statements:
                    self.db.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise HistoryError("history %s: %s" % (self.path, exc))

    def start_run(self, run_id, playbook=None, alpha=None, min_effect=None):
        """A new run; runs still 'running' were ended without their summary (a killed controller): interrupted.

        A run that is in fact still going (two controllers sharing one file) sets its own status when it finishes.
        """
        self._write([("UPDATE runs SET status = 'interrupted', finished = ? WHERE status = 'running' AND id != ?",
                      [(now(), run_id)]),
                     ("INSERT OR IGNORE INTO runs (id, started, status, playbook, alpha, min_effect) "
                      "VALUES (?, ?, 'running', ?, ?, ?)", [(run_id, now(), playbook, alpha, min_effect)])])

    def finish_run(self, run_id, status, summary=None):
        self._write([("UPDATE runs SET finished = ?, status = ?, summary = ? WHERE id = ?",
                      [(now(), status, json.dumps(summary) if summary is not None else None, run_id)])])

    def record_host(self, run_id, host, outcome, profile=None, wave=None, transaction=None, reason=None,
                    settings=None, baseline=None, after=None, comparison=None):
        """Everything one host's tuning produced, replacing what an earlier record of the same run said.

        Every part is checked before anything is written: a record of the wrong shape is refused by the field it
        names, and the store keeps what it had.
        """
        if outcome not in OUTCOMES:
            raise HistoryError("outcome must be one of %s, not %r" % (", ".join(OUTCOMES), outcome))
        comparison = _mapping(comparison, "comparison", optional=True)
        keys = (run_id, host)
        statements = [("DELETE FROM %s WHERE run_id = ? AND host = ?" % table, [keys])
                      for table in ("hosts", "settings", "samples", "trials", "verdicts")]
        statements.append(("INSERT INTO hosts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(run_id, host, now(), wave, profile, transaction, outcome,
                             _scalar(comparison.get("verdict"), "comparison.verdict"), reason)]))
        changed = []
        for index, item in enumerate(_sequence(settings, "settings")):
            item = _mapping(item, "settings[%d]" % index)
            if item.get("changed", True):
                changed.append((run_id, host, _text(_scalar(item.get("identity"), "settings[%d].identity" % index)),
                                _text(item.get("before")), _text(item.get("after"))))
        statements.append(("INSERT INTO settings VALUES (?, ?, ?, ?, ?)", changed))
        for phase, run in (("baseline", baseline), ("after", after)):
            run = _mapping(run, phase, optional=True)
            samples = []
            for name, spec in sorted(_mapping(run.get("metrics"), phase + ".metrics", optional=True).items()):
                where = "%s.metrics.%s" % (phase, name)
                spec = _mapping(spec, where)
                unit, better = _scalar(spec.get("unit"), where + ".unit"), _scalar(spec.get("better"), where + ".better")
                samples.extend((run_id, host, phase, name, index + 1, _number(value, "%s.samples[%d]" % (where, index)),
                                unit, better)
                               for index, value in enumerate(_sequence(spec.get("samples"), where + ".samples")))
            statements.append(("INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?, ?, ?)", samples))
            trials = []
            for index, trial in enumerate(_sequence(run.get("trials"), phase + ".trials")):
                trial = _mapping(trial, "%s.trials[%d]" % (phase, index))
                trials.append((run_id, host, phase) + tuple(
                    _scalar(trial.get(field), "%s.trials[%d].%s" % (phase, index, field)) for field in TRIAL_FIELDS))
            statements.append(("INSERT INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", trials))
        verdicts = []
        for index, item in enumerate(_sequence(comparison.get("metrics"), "comparison.metrics")):
            where = "comparison.metrics[%d]" % index
            item = _mapping(item, where)
            if not isinstance(item.get("gate", True), bool):
                raise HistoryError("history record: %s.gate must be true or false, not %r" % (where, item["gate"]))
            verdicts.append((run_id, host, _scalar(item.get("metric"), where + ".metric"), int(item.get("gate", True)),
                             _scalar(item.get("verdict"), where + ".verdict"))
                            + tuple(_scalar(item.get(field), "%s.%s" % (where, field))
                                    for field in ("baseline_median", "after_median", "effect", "p_value", "reason")))
        statements.append(("INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", verdicts))
        self._write(statements)

    def query(self, sql, parameters=(), max_rows=10000, timeout=60.0):
        """The rows of one statement; one that runs past timeout seconds or yields more than max_rows fails.

        A recursive CTE without a bound never ends, and its rows would fill the controller's memory first.
        """
        deadline = time.monotonic() + timeout
        self.db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10000)
        try:
            cursor = self.db.execute(sql, parameters)
            names = [column[0] for column in cursor.description or []]
            rows = cursor.fetchmany(max_rows + 1)
        except sqlite3.OperationalError as exc:
            if time.monotonic() > deadline and "interrupt" in str(exc):
                raise HistoryError("history %s: the query ran longer than timeout %s s and was stopped (a recursive "
                                   "query without a bound? add a LIMIT or a WHERE that ends it)" % (self.path, timeout))
            raise HistoryError("history %s: %s" % (self.path, exc))
        except sqlite3.Error as exc:
            raise HistoryError("history %s: %s" % (self.path, exc))
        finally:
            self.db.set_progress_handler(None, 0)
        if len(rows) > max_rows:
            raise HistoryError("history %s: the query returns more than max_rows %d rows; add a LIMIT or raise "
                               "max_rows" % (self.path, max_rows))
        return [dict(zip(names, row)) for row in rows]


TRIAL_FIELDS = ("suite", "trial", "started", "seconds", "load1", "cpu_mhz", "busy_pct", "steal_pct", "error")


def _mapping(value, where, optional=False):
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise HistoryError("history record: %s must be a mapping, not %s" % (where, type(value).__name__))
    return value


def _sequence(value, where):
    if value is None:
        return []
    if not isinstance(value, list):
        raise HistoryError("history record: %s must be a list, not %s" % (where, type(value).__name__))
    return value


def _scalar(value, where):
    """A value SQLite stores as it is: text, a number or nothing."""
    if value is None or isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return value
    raise HistoryError("history record: %s must be text or a number, not %s" % (where, type(value).__name__))


def _number(value, where):
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise HistoryError("history record: %s must be a finite number, not %r" % (where, value))


def _text(value):
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)
