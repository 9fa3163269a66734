"""The history store: WAL, root-only, one record per host and run, forks writing at once."""

import multiprocessing
import os
import re
import sqlite3
import stat

import pytest

from ansible_collections.hostperf.tuning.plugins.plugin_utils.history import History, HistoryError, check_writable

BASELINE = {"metrics": {"wan.throughput": {"unit": "Mbit/s", "better": "higher", "samples": [3.1, 3.4, 3.0]}},
            "trials": [{"suite": "wan", "trial": t, "load1": 0.1, "steal_pct": 0.0} for t in (0, 1, 2, 3)]}
AFTER = {"metrics": {"wan.throughput": {"unit": "Mbit/s", "better": "higher", "samples": [17.9, 18.2, 18.0]}},
         "trials": [{"suite": "wan", "trial": t} for t in (1, 2, 3)]}
COMPARISON = {"verdict": "improved", "metrics": [{"metric": "wan.throughput", "gate": True, "verdict": "improved",
                                                  "baseline_median": 3.1, "after_median": 18.0, "effect": 4.8,
                                                  "p_value": 0.05, "reason": "..."}]}
SETTINGS = [{"identity": "sysctl:net.ipv4.tcp_congestion_control", "before": "cubic", "after": "bbr", "changed": True},
            {"identity": "sysctl:vm.swappiness", "before": "60", "after": "60", "changed": False},
            {"identity": "sysctl:net.ipv4.tcp_rmem", "before": [4096, 131072, 6291456],
             "after": [4096, 131072, 33554432], "changed": True}]


def record(path, host, outcome="kept"):
    history = History(path)
    history.record_host("run-1", host, outcome, profile="edge", wave=1, transaction="t-" + host, reason="improved",
                        settings=SETTINGS, baseline=BASELINE, after=AFTER, comparison=COMPARISON)
    history.close()


def test_a_run_is_recorded_and_queryable(tmp_path):
    path = str(tmp_path / "history" / "hostperf.sqlite")
    history = History(path)
    history.start_run("run-1", "tune.yml", 0.01, 0.05)
    record(path, "edge-1")
    history.finish_run("run-1", "finished", {"hosts": 1})
    assert history.query("PRAGMA journal_mode") == [{"journal_mode": "wal"}]
    assert history.query("SELECT status, summary FROM runs") == [{"status": "finished", "summary": '{"hosts": 1}'}]
    assert history.query("SELECT identity, before, after FROM settings ORDER BY identity") == [
        {"identity": "sysctl:net.ipv4.tcp_congestion_control", "before": "cubic", "after": "bbr"},
        {"identity": "sysctl:net.ipv4.tcp_rmem", "before": "[4096, 131072, 6291456]",
         "after": "[4096, 131072, 33554432]"}]
    assert history.query("SELECT phase, count(*) AS n FROM samples GROUP BY phase ORDER BY phase") == [
        {"phase": "after", "n": 3}, {"phase": "baseline", "n": 3}]
    assert history.query("SELECT count(*) AS n FROM trials")[0]["n"] == 7
    assert history.query("SELECT verdict, effect FROM verdicts") == [{"verdict": "improved", "effect": 4.8}]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


def test_recording_a_host_again_replaces_its_record(tmp_path):
    path = str(tmp_path / "h.sqlite")
    History(path).start_run("run-1")
    record(path, "edge-1", "kept")
    record(path, "edge-1", "rolled_back")
    history = History(path)
    assert history.query("SELECT outcome FROM hosts") == [{"outcome": "rolled_back"}]
    assert history.query("SELECT count(*) AS n FROM samples")[0]["n"] == 6


@pytest.mark.parametrize("part, field", [
    (dict(baseline={"metrics": {"cpu.ops": {"samples": [1.0, "fast"]}}}), "baseline.metrics.cpu.ops.samples[1]"),
    (dict(after={"metrics": {"cpu.ops": {"samples": [float("nan")]}}}), "after.metrics.cpu.ops.samples[0]"),
    (dict(after={"trials": [None]}), "after.trials[0] must be a mapping"),
    (dict(baseline={"trials": [{"suite": {"name": "x"}}]}), "baseline.trials[0].suite must be text or a number"),
    (dict(settings=[{"identity": "sysctl:vm.swappiness"}, "x"]), "settings[1] must be a mapping"),
    (dict(comparison={"metrics": [{"metric": "m", "verdict": "regressed", "gate": "no"}]}),
     "comparison.metrics[0].gate must be true or false"),
    (dict(comparison=[]), "comparison must be a mapping"),
])
def test_a_record_of_the_wrong_shape_is_refused_by_its_field_and_writes_nothing(tmp_path, part, field):
    """Found by the controller fuzzer: these raised TypeError, ValueError or an SQLite constraint error."""
    path = str(tmp_path / "h.sqlite")
    History(path).start_run("run-1")
    record(path, "edge-1")
    before = list(sqlite3.connect(path).iterdump())
    arguments = dict(profile="edge", wave=1, transaction="t", reason="r", settings=SETTINGS, baseline=BASELINE,
                     after=AFTER, comparison=COMPARISON)
    arguments.update(part)
    with pytest.raises(HistoryError, match=re.escape(field)):
        History(path).record_host("run-1", "edge-1", "rolled_back", **arguments)
    assert list(sqlite3.connect(path).iterdump()) == before


def test_a_history_path_that_is_a_directory_or_absent_says_so(tmp_path):
    with pytest.raises(HistoryError, match="not a regular file"):
        History(str(tmp_path))
    with pytest.raises(HistoryError, match="no such file"):
        History(str(tmp_path / "none.sqlite"), readonly=True)
    assert not (tmp_path / "none.sqlite").exists()


def test_forks_record_at_the_same_time(tmp_path):
    path = str(tmp_path / "h.sqlite")
    History(path).start_run("run-1")
    hosts = ["edge-%02d" % number for number in range(24)]
    with multiprocessing.Pool(6) as pool:
        pool.starmap(record, [(path, host) for host in hosts])
    assert History(path).query("SELECT count(*) AS n FROM hosts")[0]["n"] == len(hosts)


def test_bad_outcome_and_foreign_schema_are_refused(tmp_path):
    path = str(tmp_path / "h.sqlite")
    history = History(path)
    history.start_run("run-1")
    with pytest.raises(HistoryError, match="outcome must be one of"):
        history.record_host("run-1", "edge-1", "fine")
    history.db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    history.db.commit()
    with pytest.raises(HistoryError, match="has history schema 99"):
        History(path)


def test_a_host_of_an_unknown_run_is_refused(tmp_path):
    with pytest.raises(HistoryError, match="FOREIGN KEY"):
        History(str(tmp_path / "h.sqlite")).record_host("no-such-run", "edge-1", "kept")


def test_read_only_query_cannot_write(tmp_path):
    path = str(tmp_path / "h.sqlite")
    History(path).start_run("run-1")
    with pytest.raises(HistoryError, match="not authorized"):
        History(path, readonly=True).query("DELETE FROM runs")
    assert sqlite3.connect(path).execute("SELECT count(*) FROM runs").fetchone()[0] == 1


@pytest.mark.parametrize("sql", [
    "ATTACH DATABASE '{dir}/elsewhere.db' AS other",  # mode=ro is the history file's alone: this made the file
    "VACUUM INTO '{dir}/copy.db'",  # so did this, with the whole history in it
    "PRAGMA user_version = 5", "PRAGMA journal_mode = DELETE", "SELECT load_extension('x')",
    "CREATE TEMP TABLE t (x)", "INSERT INTO runs (id) VALUES ('x')",
])
def test_a_read_only_query_reads_and_nothing_else(tmp_path, sql):
    path = str(tmp_path / "h.sqlite")
    writer = History(path)
    writer.start_run("run-1")
    writer.close()  # closed now, not whenever it is collected: that removed the WAL while files() listed it

    def files():  # a reader makes the WAL index (-shm) and an empty WAL where no writer left them: not content
        found = [(name, open(str(tmp_path / name), "rb").read()) for name in os.listdir(str(tmp_path))]
        return sorted(item for item in found if not item[0].endswith("-shm") and item != ("h.sqlite-wal", b""))
    before = files()
    with pytest.raises(HistoryError, match="not authorized|authorization denied"):
        History(path, readonly=True).query(sql.format(dir=tmp_path))
    assert files() == before


def test_a_read_only_query_may_select_with_ctes_and_read_the_schema(tmp_path):
    path = str(tmp_path / "h.sqlite")
    History(path).start_run("run-1")
    history = History(path, readonly=True)
    assert history.query("WITH r AS (SELECT id FROM runs) SELECT count(*) AS n FROM r") == [{"n": 1}]
    assert {"runs", "hosts"} <= set(row["name"] for row in history.query("SELECT name FROM sqlite_master"))


def test_a_run_left_running_is_closed_as_interrupted_by_the_next(tmp_path):
    path = str(tmp_path / "hostperf.sqlite")
    history = History(path)
    history.start_run("run-1", "tune.yml")  # its controller dies: no finish
    history.start_run("run-2", "tune.yml")
    assert history.query("SELECT id, status FROM runs ORDER BY id") == [
        {"id": "run-1", "status": "interrupted"}, {"id": "run-2", "status": "running"}]
    history.finish_run("run-2", "finished")
    history.start_run("run-3", "tune.yml")
    assert [row["status"] for row in history.query("SELECT status FROM runs ORDER BY id")] == [
        "interrupted", "finished", "running"]


def test_check_mode_checks_the_path_and_creates_nothing(tmp_path):
    check_writable(str(tmp_path / "new" / "dir" / "hostperf.sqlite"))
    assert os.listdir(str(tmp_path)) == []
    (tmp_path / "file").write_text("")
    with pytest.raises(HistoryError, match="file is not a directory"):
        check_writable(str(tmp_path / "file" / "hostperf.sqlite"))
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(HistoryError, match="not a regular file"):
        check_writable(str(tmp_path / "dir.sqlite"))


def test_a_read_only_history_whose_path_holds_uri_characters_opens_that_file(tmp_path):
    """Unquoted, 'h#x.sqlite' opened 'h' read-write (the rest was a URI fragment)."""
    directory = tmp_path / "runs?mode=rw#x %41"
    directory.mkdir()
    path = str(directory / "h#1.sqlite")
    History(path).start_run("run-1")
    assert History(path, readonly=True).query("SELECT id FROM runs") == [{"id": "run-1"}]
    with pytest.raises(HistoryError, match="not authorized"):
        History(path, readonly=True).query("DELETE FROM runs")
    assert sorted(os.listdir(str(tmp_path))) == ["runs?mode=rw#x %41"]


ENDLESS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT %s FROM n"


@pytest.fixture
def one_host(tmp_path):
    """A read-only history holding one run with one host."""
    path = str(tmp_path / "h.sqlite")
    History(path).start_run("run-1")
    record(path, "web1")
    return History(path, readonly=True)


def test_a_recursive_query_without_a_bound_is_stopped_by_the_timeout(one_host):
    history = one_host
    with pytest.raises(HistoryError, match=r"ran longer than timeout 0.5 s and was stopped"):
        history.query(ENDLESS % "count(*)", timeout=0.5)
    # the connection is usable again, without the handler
    assert history.query("SELECT count(*) AS hosts FROM hosts") == [{"hosts": 1}]


def test_a_query_yielding_more_than_max_rows_fails_instead_of_filling_memory(one_host):
    history = one_host
    with pytest.raises(HistoryError, match=r"more than max_rows 100 rows; add a LIMIT"):
        history.query(ENDLESS % "i", max_rows=100)
    assert len(history.query(ENDLESS % "i" + " LIMIT 100", max_rows=100)) == 100
