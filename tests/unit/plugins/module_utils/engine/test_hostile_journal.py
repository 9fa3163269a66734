"""The journal on a hostile host: directories and records others could write, a clock that steps back, a run
killed inside a write or a rollback, a full disk, persistence paths that are links. Each ends exact or refused."""

import datetime
import errno
import json
import os
import types

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.engine import journal as journal_module
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import (
    COMMITTED, PENDING, ROLLED_BACK, ROLLING_BACK, Journal, JournalError)
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine, TransactionError
from ansible_collections.hostperf.tuning.plugins.module_utils.host import files
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.block import UDEV_RULES_FILE
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.kernel_module import MODULES_LOAD_FILE
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.sysctl import SYSCTL_FILE

from fakekernel import FakeKernelTree, Killed, kill_inside, outside_journal, tree_digest

REQUEST = {
    "sysctl:vm.swappiness": 10,
    "sysctl:net.core.somaxconn": 8192,
    "block:vda:scheduler": "mq-deadline",
    "block:vda:read_ahead_kb": 1024,
    "module:tcp_bbr": "loaded",
}
OTHER_UID = 4321
STATE = "/var/lib/hostperf/state.json"


@pytest.fixture
def small(host_root):
    root = host_root("cloud-vm")
    return FakeKernelTree(root, loadable={"tcp_bbr"}), root


def leftovers(root):
    return sorted(os.path.join(d, n)[len(root):] for d, dirs, names in os.walk(root)
                  for n in names if n.startswith(".hostperf-") and n.endswith(".tmp"))


# -- the journal directory -------------------------------------------------------------------------------------


def test_a_journal_dir_that_is_a_link_is_refused_and_its_target_untouched(small):
    tree, root = small
    os.makedirs(root + "/srv/shared")
    os.chmod(root + "/srv/shared", 0o1777)
    os.makedirs(root + "/var/lib")
    os.symlink(root + "/srv/shared", root + "/var/lib/hostperf")
    before = tree_digest(root)
    with pytest.raises(JournalError, match="journal_dir /var/lib/hostperf: /var/lib/hostperf is a symbolic link"):
        tune(tree, Journal(tree), {"settings": REQUEST})
    assert tree_digest(root) == before and tree.writes == []


@pytest.mark.parametrize("journal_dir, mode, words", [
    ("/tmp", 0o1777, "/tmp is writable by group or others (mode 1777)"),
    ("/var/lib/hostperf", 0o775, "/var/lib/hostperf is writable by group or others (mode 0775)"),
])
def test_a_journal_dir_others_may_write_is_refused_and_never_chmodded(small, journal_dir, mode, words):
    tree, root = small
    os.makedirs(root + journal_dir)
    os.chmod(root + journal_dir, mode)
    before = tree_digest(root)
    with pytest.raises(JournalError, match=words.replace("(", r"\(").replace(")", r"\)")):
        tune(tree, Journal(tree, journal_dir), {"settings": REQUEST})
    assert tree_digest(root) == before and tree.writes == []


def test_a_journal_dir_made_by_another_user_is_refused(small):
    tree, root = small
    os.makedirs(root + "/var/lib/hostperf/transactions")
    os.chown(root + "/var/lib/hostperf", OTHER_UID, OTHER_UID)
    os.chmod(root + "/var/lib/hostperf", 0o700)
    before = tree_digest(root)
    with pytest.raises(JournalError, match="owned by uid %d, not by this user" % OTHER_UID):
        tune(tree, Journal(tree), {"settings": REQUEST})
    assert tree_digest(root) == before and tree.writes == []


def test_a_journal_below_a_sticky_directory_is_made_0700_and_the_parent_kept(small):
    tree, root = small
    os.makedirs(root + "/tmp")
    os.chmod(root + "/tmp", 0o1777)
    tune(tree, Journal(tree, "/tmp/hostperf"), {"settings": REQUEST})
    assert os.stat(root + "/tmp").st_mode & 0o7777 == 0o1777
    assert os.stat(root + "/tmp/hostperf").st_mode & 0o7777 == 0o700


def test_an_existing_journal_dir_keeps_its_mode(small):
    tree, root = small
    os.makedirs(root + "/var/lib/hostperf")
    os.chmod(root + "/var/lib/hostperf", 0o750)
    tune(tree, Journal(tree), {"settings": REQUEST})
    assert os.stat(root + "/var/lib/hostperf").st_mode & 0o7777 == 0o750


def test_a_refused_setting_touches_no_directory_even_with_journal_dir_root(small):
    tree, root = small
    os.chmod(root, 0o755)
    before = tree_digest(root)
    with pytest.raises(KnobError, match="vm.swappiness"):
        tune(tree, Journal(tree, "/"), {"settings": {"sysctl:vm.swappiness": 999}})
    with pytest.raises(JournalError, match="must name a directory of its own"):
        tune(tree, Journal(tree, "/"), {"settings": REQUEST})
    assert os.stat(root).st_mode & 0o7777 == 0o755 and tree_digest(root) == before


# -- records ---------------------------------------------------------------------------------------------------


def _forge(root, record, name=None, **chmod):
    directory = root + "/var/lib/hostperf/transactions"
    os.makedirs(directory, exist_ok=True)
    os.chmod(root + "/var/lib/hostperf", 0o700)
    os.chmod(directory, 0o700)
    path = os.path.join(directory, (name or record["id"]) + ".json")
    with open(path, "w") as handle:
        json.dump(record, handle)
    os.chmod(path, chmod.get("mode", 0o600))
    return path


def _cron_record(ident="20260101T000000.000000Z-0badc0de"):
    content = "* * * * * root /tmp/x\n"
    return {"id": ident, "sequence": 1, "label": None, "created": "x", "state": COMMITTED, "events": [],
            "settings": [], "files": [{"path": "/etc/cron.d/hostperf", "existed": True, "mode": 0o644, "uid": 0,
                                       "gid": 0, "content": __import__("base64").b64encode(content.encode()).decode()}]}


def test_a_record_naming_a_path_no_kind_writes_is_not_rolled_back(small):
    tree, root = small
    _forge(root, _cron_record())
    with pytest.raises(JournalError, match="names /etc/cron.d/hostperf, which no kind of this collection writes"):
        Engine(tree, Journal(tree)).rollback("pristine")
    assert not os.path.lexists(root + "/etc/cron.d/hostperf")


def test_a_record_that_is_a_link_or_not_ours_is_refused(small):
    tree, root = small
    record = _cron_record()
    forged = root + "/srv/forged.json"
    os.makedirs(root + "/srv")
    with open(forged, "w") as handle:
        json.dump(record, handle)
    os.makedirs(root + "/var/lib/hostperf/transactions")
    os.chmod(root + "/var/lib/hostperf", 0o700)
    link = root + "/var/lib/hostperf/transactions/%s.json" % record["id"]
    os.symlink(forged, link)
    with pytest.raises(JournalError, match="cannot be opened"):
        Engine(tree, Journal(tree)).rollback("pristine")
    os.unlink(link)
    path = _forge(root, record)
    os.chown(path, OTHER_UID, 0)
    with pytest.raises(JournalError, match="owned by uid %d" % OTHER_UID):
        Journal(tree).transactions()
    os.chown(path, 0, 0)
    os.chmod(path, 0o622)
    with pytest.raises(JournalError, match="writable by group or others"):
        Journal(tree).interrupted()
    assert not os.path.lexists(root + "/etc/cron.d/hostperf")


@pytest.mark.parametrize("change, words", [
    (lambda r: r.update(settings={}), "settings must be a list"),
    (lambda r: r["settings"].append({"before": 1, "after": 2}), "settings must be a list"),
    (lambda r: r.update(state="done"), "state 'done' is none of"),
    (lambda r: r.update(id="20260101T000000.000000Z-00000000"), "its id"),
    (lambda r: r.update(sequence="1"), "sequence '1'"),
    (lambda r: r["files"][0].pop("path"), "a snapshot without a path"),
    (lambda r: r["files"][0].update(path="/etc/../etc/sysctl.d/x.conf"), "not a normalised absolute path"),
    (lambda r: r["files"][0].update(mode="0644"), "mode, uid and gid must be non-negative integers"),
    (lambda r: r["files"][0].update(existed="yes"), "existed must be true or false"),
    (lambda r: r["files"][0].update(existed=False, missing_dirs=["/srv"]), "missing_dirs must be parents"),
])
def test_a_record_of_the_wrong_shape_is_named_not_a_traceback(small, change, words):
    tree, root = small
    record = _cron_record()
    record["files"][0]["path"] = SYSCTL_FILE
    change(record)
    _forge(root, record, name="20260101T000000.000000Z-0badc0de")
    with pytest.raises(JournalError, match="is not one this collection wrote: .*" + words.replace("(", r"\(")):
        Engine(tree, Journal(tree)).rollback("pristine")


def test_a_damaged_state_file_fails_instead_of_dropping_every_managed_setting(small):
    tree, root = small
    tune(tree, Journal(tree), {"settings": {"sysctl:vm.swappiness": 10}})
    with open(root + STATE, "r+") as handle:
        handle.truncate(12)
    before = tree_digest(root)
    with pytest.raises(JournalError, match="state.json is damaged"):
        tune(tree, Journal(tree), {"settings": {"sysctl:net.core.somaxconn": 8192}})
    with open(root + STATE, "w") as handle:
        json.dump({"settings": ["vm.swappiness"]}, handle)
    with pytest.raises(JournalError, match="is not the state this collection writes"):
        tune(tree, Journal(tree), {"settings": {"sysctl:net.core.somaxconn": 8192}})
    assert {p: v for p, v in tree_digest(root).items() if p != STATE} == {
        p: v for p, v in before.items() if p != STATE}


# -- order, kills, a full disk ---------------------------------------------------------------------------------


def test_a_clock_that_steps_back_does_not_reorder_transactions(small, monkeypatch):
    tree, root = small
    pristine = outside_journal(root)
    assert tree.read("/proc/sys/vm/swappiness") == "60"
    engine = Engine(tree, Journal(tree))
    first = engine.apply({"sysctl:vm.swappiness": 10})["transaction"]
    stepped = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    fake = type("Stepped", (datetime.datetime,), {"now": classmethod(lambda cls, tz=None: stepped)})
    monkeypatch.setattr(journal_module, "datetime", types.SimpleNamespace(datetime=fake, timezone=datetime.timezone))
    second = engine.apply({"sysctl:vm.swappiness": 30, "sysctl:net.core.somaxconn": 8192})["transaction"]
    assert second < first, "the second id sorts first: the clock stepped back"
    assert [r["id"] for r in Journal(tree).transactions()] == [first, second]
    assert engine.rollback("last")["transactions"] == [second]
    assert tree.read("/proc/sys/vm/swappiness") == "10"
    engine.apply({"sysctl:vm.swappiness": 30})
    engine.rollback("pristine")
    assert tree.read("/proc/sys/vm/swappiness") == "60" and outside_journal(root) == pristine


# the commit is the second save of the record (.json), after every file and value
@pytest.mark.parametrize("target, nth", [(SYSCTL_FILE, 1), (UDEV_RULES_FILE, 1), (MODULES_LOAD_FILE, 1), (STATE, 1),
                                         (".json", 2)])
def test_a_kill_inside_any_write_of_an_apply_leaves_nothing_after_recovery(small, monkeypatch, target, nth):
    tree, root = small
    pristine = outside_journal(root)
    revive = kill_inside(monkeypatch, target, nth)
    with pytest.raises(Killed):
        Engine(tree, Journal(tree)).apply(REQUEST)
    assert leftovers(root), "the killed write left its temporary"
    revive()
    journal = Journal(tree)
    assert [r["state"] for r in journal.interrupted()] == [PENDING]
    with pytest.raises(JournalError, match="interrupted"):
        tune(tree, journal, {"settings": REQUEST})
    with journal.lock():
        Engine(tree, journal).rollback("interrupted")
    assert outside_journal(root) == pristine and leftovers(root) == [] and journal.interrupted() == []


def test_a_kill_inside_the_first_save_changes_nothing_and_the_next_run_sweeps_it(small, monkeypatch):
    tree, root = small
    pristine = outside_journal(root)
    revive = kill_inside(monkeypatch, ".json")
    with pytest.raises(Killed):
        Engine(tree, Journal(tree)).apply(REQUEST)
    revive()
    assert outside_journal(root) == pristine and tree.writes == [] and Journal(tree).transactions() == []
    assert tune(tree, Journal(tree), {"settings": REQUEST})["changed"] and leftovers(root) == []


# the rollback saves the record twice: rolling_back before it writes anything, rolled_back after; a file that
# existed is renamed back into place, one the apply made is unlinked
@pytest.mark.parametrize("target, nth, call, on_disk", [
    (SYSCTL_FILE, 1, "rename", ROLLING_BACK), (UDEV_RULES_FILE, 1, "unlink", ROLLING_BACK),
    (STATE, 1, "unlink", ROLLING_BACK), (".json", 1, "rename", COMMITTED), (".json", 2, "rename", ROLLING_BACK)])
def test_a_rollback_killed_inside_a_write_is_itself_interrupted(small, monkeypatch, target, nth, call, on_disk):
    tree, root = small
    os.makedirs(root + "/etc/sysctl.d")
    with open(root + SYSCTL_FILE, "w") as handle:
        handle.write("# by hand\nvm.swappiness = 1\n")
    pristine = outside_journal(root)
    engine = Engine(tree, Journal(tree))
    engine.apply(REQUEST)
    revive = kill_inside(monkeypatch, target, nth, call)
    with pytest.raises(Killed):
        engine.rollback("last")
    revive()
    journal = Journal(tree)
    assert [r["state"] for r in journal.transactions()] == [on_disk]
    if on_disk == ROLLING_BACK:
        with pytest.raises(JournalError, match="interrupted"):
            tune(tree, journal, {"settings": REQUEST})
    with journal.lock():
        Engine(tree, journal).rollback("interrupted" if on_disk == ROLLING_BACK else "last")
    assert outside_journal(root) == pristine and leftovers(root) == []
    assert [r["state"] for r in journal.transactions()] == [ROLLED_BACK]


def _full_from(monkeypatch, nth):
    """The journal's filesystem fills at its nth save and stays full until freed."""
    real = journal_module.atomic_write
    calls = []

    def atomic_write(*args, **kwargs):
        calls.append(args[1])
        if len(calls) >= nth:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)
    monkeypatch.setattr(journal_module, "atomic_write", atomic_write)
    return lambda: monkeypatch.setattr(journal_module, "atomic_write", real)


def test_a_full_disk_at_the_first_save_changes_nothing(small, monkeypatch):
    tree, root = small
    pristine = outside_journal(root)
    _full_from(monkeypatch, 1)
    with pytest.raises(JournalError, match="No space left on device; nothing was changed"):
        tune(tree, Journal(tree), {"settings": REQUEST})
    assert outside_journal(root) == pristine and tree.writes == [] and Journal(tree).transactions() == []


def test_a_full_disk_at_the_commit_puts_everything_back(small, monkeypatch):
    tree, root = small
    pristine = outside_journal(root)
    free = _full_from(monkeypatch, 2)
    with pytest.raises(TransactionError, match="every change was rolled back, but the journal could not record it"):
        tune(tree, Journal(tree), {"settings": REQUEST})
    assert outside_journal(root) == pristine
    free()
    journal = Journal(tree)
    assert [r["state"] for r in journal.interrupted()] == [PENDING]
    with journal.lock():
        assert Engine(tree, journal).rollback("interrupted")["settings"]
    assert outside_journal(root) == pristine and journal.interrupted() == [] and leftovers(root) == []


@pytest.mark.parametrize("nth", [1, 2])
def test_a_full_disk_during_a_rollback_still_restores_and_says_so(small, monkeypatch, nth):
    tree, root = small
    pristine = outside_journal(root)
    engine = Engine(tree, Journal(tree))
    engine.apply(REQUEST)
    free = _full_from(monkeypatch, nth)
    with pytest.raises(TransactionError, match="restored every value and file, but the journal could not record"):
        engine.rollback("last")
    assert outside_journal(root) == pristine
    free()
    state = Journal(tree).transactions()[-1]["state"]
    assert state == (COMMITTED if nth == 1 else ROLLING_BACK)
    engine.rollback("last" if nth == 1 else "interrupted")
    assert Journal(tree).transactions()[-1]["state"] == ROLLED_BACK and outside_journal(root) == pristine


# -- persistence paths that are links, or not files -------------------------------------------------------------


def test_a_persistence_file_that_is_a_link_comes_back_as_the_same_link(small):
    tree, root = small
    shared = root + "/etc/hostperf-shared.conf"
    os.makedirs(root + "/etc/sysctl.d")
    with open(shared, "w") as handle:
        handle.write("vm.swappiness = 1\n")
    os.chmod(shared, 0o640)
    os.symlink("../hostperf-shared.conf", root + SYSCTL_FILE)
    pristine = outside_journal(root)
    engine = Engine(tree, Journal(tree))
    result = engine.apply({"sysctl:vm.swappiness": 10})
    sysctl_file = [f for f in result["files"] if f["path"] == SYSCTL_FILE][0]
    assert sysctl_file["before"] == "vm.swappiness = 1\n" and sysctl_file["action"] == "updated"
    assert not os.path.islink(root + SYSCTL_FILE) and open(shared).read() == "vm.swappiness = 1\n"
    engine.rollback("last")
    assert os.readlink(root + SYSCTL_FILE) == "../hostperf-shared.conf"
    assert outside_journal(root) == pristine
    snap = [f for f in Journal(tree).transactions()[-1]["files"] if f["path"] == SYSCTL_FILE][0]
    assert snap["link"] == "../hostperf-shared.conf" and "mode" not in snap and files.matches(tree, snap)
    os.unlink(root + SYSCTL_FILE)
    os.symlink("../elsewhere.conf", root + SYSCTL_FILE)
    assert not files.matches(tree, snap), "a link to another target is not the link the snapshot saw"


def test_a_persistence_path_that_is_a_fifo_is_refused_before_any_change(small):
    tree, root = small
    os.makedirs(root + "/etc/sysctl.d")
    os.mkfifo(root + SYSCTL_FILE)
    before = outside_journal(root)
    with pytest.raises(KnobError, match="%s: cannot be read to keep its old content: not a regular file" % SYSCTL_FILE):
        tune(tree, Journal(tree), {"settings": {"sysctl:vm.swappiness": 10}})
    assert outside_journal(root) == before and tree.writes == []


@pytest.mark.parametrize("journal_dir", ["/proc/sys", "/sys/kernel", "/dev/shm/hostperf", "/run/hostperf"])
def test_a_journal_on_a_kernel_or_memory_filesystem_is_refused(small, journal_dir):
    tree, root = small
    before = tree_digest(root)
    with pytest.raises(JournalError, match="is a kernel or memory filesystem; the journal must survive a reboot"):
        tune(tree, Journal(tree, journal_dir), {"settings": REQUEST})
    assert tree_digest(root) == before


def test_a_rollback_where_no_journal_is_makes_none(small):
    tree, root = small
    os.makedirs(root + "/srv/empty")
    before = tree_digest(root)
    journal = Journal(tree, "/srv/empty")
    assert not journal.exists()
    with journal.lock(create=journal.exists()):
        assert Engine(tree, journal).rollback("pristine")["changed"] is False
    assert tree_digest(root) == before


def test_a_vanished_disk_is_forgotten_explicitly_and_a_present_one_is_not(host_root):
    root = host_root("dc-2socket")
    tree = FakeKernelTree(root)
    engine = Engine(tree, Journal(tree))
    engine.apply({"block:sda:read_ahead_kb": 1024, "sysctl:vm.swappiness": 10})
    sda = os.path.realpath(root + "/sys/block/sda")
    os.unlink(root + "/sys/block/sda")
    with pytest.raises(TransactionError, match="incomplete"):
        engine.rollback("last")
    assert tree.read("/proc/sys/vm/swappiness") == "60", "what could be restored was"
    with pytest.raises(KnobError, match="forget: sysctl:vm.swappiness: is present on this host"):
        engine.rollback("interrupted", forget=["sysctl:vm.swappiness"])
    with pytest.raises(KnobError, match="forget: block:sdb:nr_requests: not a setting of the transaction"):
        engine.rollback("interrupted", forget=["block:sdb:nr_requests"])
    result = engine.rollback("interrupted", forget=["block:sda:read_ahead_kb"])
    assert [item["status"] for item in result["settings"] if item["identity"] == "block:sda:read_ahead_kb"] == [
        "forgotten"]
    record = Journal(tree).transactions()[-1]
    assert record["state"] == ROLLED_BACK and any(event.startswith("forgot block:sda:read_ahead_kb")
                                                  for event in record["events"])
    assert not os.path.exists(root + UDEV_RULES_FILE) and os.path.isdir(sda)
