"""Property-based fuzzing of what the controller runs on user input: the history actions, compare, tuned_profile.

Ansible prints AnsibleActionFail and AnsibleFilterError as the task's error; any other exception reaches the operator
as a traceback. So each input is either taken, or refused with one of those and a message, and a refused history
write leaves the file exactly as it was. Inputs per target: HOSTPERF_FUZZ_EXAMPLES (tests/hostile.py).
"""

import hashlib
import os
import re
import shutil
import sqlite3
from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleActionFail, AnsibleFilterError
from hypothesis import event, given, strategies as st

from ansible_collections.hostperf.tuning.plugins.action import history as history_action
from ansible_collections.hostperf.tuning.plugins.action import history_info as history_info_action
from ansible_collections.hostperf.tuning.plugins.filter.compare import compare
from ansible_collections.hostperf.tuning.plugins.filter.tuned_profile import tuned_profile
from ansible_collections.hostperf.tuning.plugins.plugin_utils.history import OUTCOMES, History

from hostile import FUZZ, SCALAR, TEXT, VALUE, mostly

RUN = "20261203T100000Z-abcdef"


def run_action(module, args, check_mode=False):
    """The action plugin's run() as the task executor calls it, on a task and connection of its own."""
    task = SimpleNamespace(args=dict(args), async_val=0, check_mode=check_mode, action=module.__name__)
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir="/nonexistent"))
    action = module.ActionModule(task, connection, play_context=None, loader=None, templar=None)
    action._load_name = module.__name__.rsplit(".", 1)[-1]
    return action.run(task_vars={"inventory_hostname": "web1"})


def _refused(exc, prefix=""):
    message = str(exc)
    assert message.strip() and "Traceback" not in message and message.startswith(prefix), message
    event("refused: " + re.sub(r"'[^']*'|\S*[/\d]\S*", "...", message[len(prefix):])[:50])


EMPTY = hashlib.sha256(b"").hexdigest()


def _files(directory):
    """Every file under directory with a digest of its bytes: what a read-only query must leave as it was.

    SQLite makes the WAL index (-shm) and an empty WAL for any reader of a WAL-mode file, as the sqlite3 shell does;
    they hold no rows, so they are left out.
    """
    found = {}
    for parent, _dirs, names in os.walk(directory):
        for name in names:
            path = os.path.join(parent, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, directory)] = hashlib.sha256(handle.read()).hexdigest()
    return dict((name, digest) for name, digest in found.items()
                if not name.endswith("-shm") and not (name.endswith("-wal") and digest == EMPTY))


def _rows(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return list(db.iterdump())
    finally:
        db.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A history file with one run and one host recorded, copied afresh for each input."""
    path = str(tmp_path_factory.mktemp("history-template") / "hostperf.sqlite")
    history = History(path)
    history.start_run(RUN, "tune.yml", 0.01, 0.05)
    history.record_host(RUN, "web0", "kept", "throughput", 1, "t1", "unchanged",
                        [{"identity": "sysctl:vm.swappiness", "before": "60", "after": "10"}],
                        {"metrics": {"cpu.ops": {"samples": [1.0, 2.0], "unit": "ops/s", "better": "higher"}}},
                        {"metrics": {"cpu.ops": {"samples": [1.5, 2.5], "unit": "ops/s", "better": "higher"}}},
                        {"verdict": "unchanged", "metrics": [{"metric": "cpu.ops", "verdict": "unchanged"}]})
    history.close()
    return path


def _fresh_store(store, tmp_path_factory):
    directory = tmp_path_factory.mktemp("history")
    shutil.copy(store, str(directory / "hostperf.sqlite"))
    (directory / "a-file").write_text("not a directory\n")
    return directory


METRIC = st.fixed_dictionaries({}, optional={
    "samples": mostly(st.lists(mostly(st.floats(-1e6, 1e6)), max_size=4)), "unit": TEXT,
    "better": mostly(st.sampled_from(["higher", "lower"]))})
TRIAL = st.fixed_dictionaries({}, optional=dict(
    (key, mostly(SCALAR)) for key in ("suite", "trial", "started", "seconds", "load1", "cpu_mhz", "busy_pct",
                                      "steal_pct", "error")))
MEASURED = st.fixed_dictionaries({}, optional={
    "metrics": mostly(st.dictionaries(TEXT, mostly(METRIC), max_size=2)),
    "trials": mostly(st.lists(mostly(TRIAL), max_size=3))})
SETTING = st.fixed_dictionaries({"identity": mostly(st.sampled_from(["sysctl:vm.swappiness"]) | TEXT)}, optional={
    "before": VALUE, "after": VALUE, "changed": mostly(st.booleans())})
VERDICT = mostly(st.fixed_dictionaries(
    {"metric": mostly(TEXT), "verdict": mostly(st.sampled_from(["regressed", "unchanged"]))},
    optional=dict([("gate", mostly(st.booleans())), ("reason", mostly(TEXT))] + [
        (key, SCALAR) for key in ("baseline_median", "after_median", "effect", "p_value")])))
COMPARISON = st.fixed_dictionaries({}, optional={"verdict": mostly(TEXT), "metrics": mostly(st.lists(VERDICT, max_size=3))})
EVENTS = ["host"] * 4 + ["start", "finish"]
PATHS = ["hostperf.sqlite"] * 6 + ["new/dir/h.sqlite", ".", "a-file", "a-file/h.sqlite", ""]


@FUZZ
@given(data=st.data(), check_mode=st.booleans())
def test_the_history_action_records_or_refuses_without_a_trace(store, tmp_path_factory, data, check_mode):
    directory = _fresh_store(store, tmp_path_factory)
    path = st.sampled_from(PATHS).map(lambda name: str(directory / name))
    if data.draw(st.booleans()):  # options of any type
        args = data.draw(st.fixed_dictionaries({"path": path, "event": mostly(st.sampled_from(EVENTS))}, optional=dict(
            (option, VALUE) for option in history_action.ARGUMENT_SPEC if option not in ("path", "event"))))
    else:  # what the tune role records, its payloads of any shape inside
        required = {"path": path, "event": st.sampled_from(EVENTS), "outcome": st.sampled_from(OUTCOMES),
                    "run": st.sampled_from([RUN, RUN, "other"]) | TEXT}
        args = data.draw(st.fixed_dictionaries(required, optional={
            "host": TEXT, "profile": TEXT, "wave": st.integers(-3, 10), "transaction": TEXT, "reason": TEXT,
            "settings": st.lists(SETTING, max_size=3), "baseline": MEASURED, "after": MEASURED,
            "comparison": COMPARISON, "status": TEXT, "summary": VALUE, "alpha": st.floats(0, 1),
            "min_effect": st.floats(0, 1), "playbook": TEXT}))
    before = _rows(str(directory / "hostperf.sqlite"))
    try:
        result = run_action(history_action, args, check_mode)
    except AnsibleActionFail as exc:
        _refused(exc)
        assert _rows(str(directory / "hostperf.sqlite")) == before, "a refused record changed the history"
        return
    event("recorded" if result["changed"] else "checked")
    if check_mode or not args["path"].endswith("/hostperf.sqlite"):
        assert _rows(str(directory / "hostperf.sqlite")) == before
    elif args["event"] == "host":
        host = args.get("host") or "web1"
        assert [row[0] for row in sqlite3.connect(args["path"]).execute(
            "SELECT outcome FROM hosts WHERE run_id = ? AND host = ?", (result["run"], host))] == [args["outcome"]]


SQL = ["SELECT host, outcome FROM hosts", "SELECT * FROM samples WHERE host = ?", "SELECT ?", "SELECT ?, ?",
       "ATTACH DATABASE ? AS other", "VACUUM INTO ?", "DELETE FROM hosts", "UPDATE runs SET status = ?",
       "PRAGMA journal_mode=DELETE", "PRAGMA writable_schema=ON", "CREATE TABLE x (a)", "SELECT load_extension(?)",
       "SELECT 1; DELETE FROM runs", "INSERT INTO meta VALUES (?, ?)", "DROP TABLE hosts",
       "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 5) SELECT x FROM c",
       "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c",
       "SELECT readfile(?)", "SELECT writefile(?, 'x')", "REINDEX", "ANALYZE", "BEGIN IMMEDIATE"]


@FUZZ
@given(data=st.data())
def test_the_history_info_action_reads_or_refuses_and_writes_nothing(store, tmp_path_factory, data):
    directory = _fresh_store(store, tmp_path_factory)
    inside = st.sampled_from(["attached.sqlite", "hostperf.sqlite", "x.so"]).map(lambda name: str(directory / name))
    args = data.draw(st.fixed_dictionaries(
        {"path": st.sampled_from(PATHS).map(lambda name: str(directory / name)),
         "sql": mostly(st.sampled_from(SQL) | TEXT)},
        optional={"parameters": st.lists(inside | SCALAR, max_size=2) | VALUE,
                  "max_rows": mostly(st.integers(-1, 20)) | VALUE, "timeout": mostly(st.floats(-1, 5)) | VALUE}))
    before = _files(str(directory))
    try:
        result = run_action(history_info_action, args)
    except AnsibleActionFail as exc:
        _refused(exc)
    else:
        event("read %s" % ("rows" if result["rows"] else "nothing"))
        assert isinstance(result["rows"], list) and result["changed"] is False
    assert _files(str(directory)) == before, "history_info wrote"


SAMPLES = st.lists(st.floats(50, 150), min_size=3, max_size=12) | st.lists(SCALAR, max_size=4) | VALUE
SIDE = mostly(st.fixed_dictionaries({"metrics": st.dictionaries(
    st.sampled_from(["cpu.ops", "disk.iops"]) | TEXT,
    st.fixed_dictionaries({"samples": SAMPLES}, optional={
        "better": st.sampled_from(["higher", "lower"]) | VALUE, "gate": st.booleans() | VALUE,
        "unit": TEXT, "disturbed": st.integers(-1, 5) | VALUE, "warmup": SAMPLES}) | VALUE, max_size=2) | VALUE},
    optional={"settings": st.fixed_dictionaries({}, optional={
        "design": st.sampled_from(["pairs", "blocks"]) | VALUE,
        "looks": st.lists(st.integers(-1, 12), max_size=3) | VALUE}) | VALUE,
        "suites": st.lists(st.fixed_dictionaries({"name": TEXT, "status": st.sampled_from(["ok", "failed"]) | VALUE})
                           | VALUE, max_size=2) | VALUE}))


@FUZZ
@given(data=st.data())
def test_compare_judges_or_refuses_any_runs(data):
    args = dict(baseline=data.draw(SIDE), after=data.draw(SIDE), confirm=data.draw(st.none() | SIDE))
    args.update(data.draw(st.fixed_dictionaries({}, optional={
        "alpha": st.floats(0.001, 0.2) | SCALAR | VALUE, "min_effect": st.floats(0, 0.5) | SCALAR | VALUE,
        "metrics": st.none() | st.lists(st.sampled_from(["cpu.ops", "disk.iops"]) | TEXT, max_size=2) | VALUE})))
    try:
        result = compare(**args)
    except AnsibleFilterError as exc:
        _refused(exc, "compare: ")
        return
    event("judged: " + result["verdict"])
    assert result["verdict"] in ("regressed", "improved", "unchanged", "inconclusive")
    assert all(isinstance(reason, str) for reason in result["reasons"])


TUNED_LINE = mostly(
    st.sampled_from(["[main]", "[sysctl]", "[cpu]", "[vm]", "[disk]", "[bootloader]", "[script]", "[", "]", "#",
                     "include=parent", "include=parent", "include=missing", "include=/etc", "include=${f:x}", "summary=x",
                     "vm.swappiness=10", "net.core.somaxconn=>4096", "kernel.x=${VAR}", "governor=performance",
                     "energy_performance_preference=balance_power", "transparent_hugepages=never",
                     "elevator=mq-deadline", "readahead=>4096s", "readahead=-1", "devices=sd*", "a=b=c", "=x"]),
    6, st.tuples(TEXT, TEXT).map("=".join) | TEXT)


@FUZZ
@given(data=st.data())
def test_tuned_profile_translates_or_refuses_any_profile(tmp_path_factory, data):
    directory = tmp_path_factory.mktemp("tuned")
    for name in ("fuzzed", "parent"):
        (directory / name).mkdir()
        text = "\n".join(["[main]"] + data.draw(st.lists(TUNED_LINE, max_size=8))) + "\n"
        raw = text.encode("utf-8", "surrogatepass") + data.draw(st.sampled_from([b""] * 8 + [b"\xff\xfe", b"\x00"]))
        (directory / name / "tuned.conf").write_bytes(raw)
    names = ["fuzzed"] * 6 + ["parent", "missing", "../fuzzed", str(directory / "fuzzed")]
    name = data.draw(mostly(st.sampled_from(names)))
    dirs = data.draw(mostly(st.sampled_from([[str(directory)], [str(directory), "/usr/lib/tuned"], None])))
    try:
        result = tuned_profile(name, dirs)
    except AnsibleFilterError as exc:
        _refused(exc, "tuned_profile: ")
        return
    event("translated")
    assert isinstance(result["profile"], dict) and isinstance(result["untranslated"], list)
