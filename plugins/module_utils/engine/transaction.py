# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply desired settings as one transaction, and roll transactions back exactly.

apply: validate everything, read every current value and every file the run
will touch, journal them before the first change, change live values in
dependency order, write the persistence files, re-read and verify, commit.
Any failure on the way puts every value and file back and says, setting by
setting, what happened. Only Exception is caught: a killed run leaves a
pending journal that the next run reports and rollback replays.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible_collections.hostperf.tuning.plugins.module_utils.engine import boot_recovery
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.boot_recovery import BOOT_RECOVERY
from ansible_collections.hostperf.tuning.plugins.module_utils.host import files
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import (
    COMMITTED, INCOMPLETE, ROLLED_BACK, ROLLING_BACK, TRIAL, UNFINISHED, JournalError)
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import KINDS, knob_for, where_persisted

HOOK_TIMEOUT = 300  # update-grub probes every disk: minutes on a slow eMMC box or an emulated VM
DRIFT_SETTLE = 1.0  # seconds before a drifted value is set again (see Knob.drifts)


class TransactionError(Exception):
    """Apply or rollback failed; result holds what happened to each setting."""

    def __init__(self, message, result):
        Exception.__init__(self, message)
        self.result = result


def _no_fault(step):
    """Tests replace this to kill a run at any step."""


class Engine:
    def __init__(self, tree, journal, fault=_no_fault):
        self.tree = tree
        self.journal = journal
        self.fault = fault

    # -- planning ----------------------------------------------------------
    def validate(self, desired):
        """[(knob, value)] from {identity: value}; every bad setting is reported at once."""
        errors, settings, spelled = [], [], {}
        pending = list(desired.items())
        seen = set(desired)
        while pending:
            identity, value = pending.pop(0)
            try:
                knob = knob_for(self.tree, identity)
                value = knob.validate(value)
            except KnobError as exc:
                errors.append(str(exc))
                continue
            # Two spellings of one setting (sysctl:vm/swappiness, features:gro) are one setting.
            first = spelled.setdefault(knob.identity, (identity, value))
            if first != (identity, value):
                if not knob.equal(first[1], value):
                    errors.append("%s and %s name the same setting with different values (%r, %r)"
                                  % (first[0], identity, first[1], value))
                continue
            settings.append((knob, value))
            for needed, needed_value in knob.requires(value).items():
                if needed not in seen:
                    seen.add(needed)
                    pending.append((needed, needed_value))
        request = dict((knob.identity, value) for knob, value in settings)
        for knob, value in settings if not errors else ():
            try:
                knob.validate_with(value, request)
            except KnobError as exc:
                errors.append(str(exc))
        if errors:
            raise KnobError("; ".join(errors))
        return sorted(settings, key=lambda item: (item[0].order, item[0].identity))

    def files_for(self, state):
        """{path: bytes or None} that the managed state renders to."""
        rendered = {}
        carriers = []  # a persistence may carry several kinds (the command line and its trial): rendered once
        for kind in sorted(KINDS.values(), key=lambda kind: kind.kind):
            if kind.persistence not in carriers:
                carriers.append(kind.persistence)
        for persistence in carriers:
            entries = []
            for identity, entry in sorted(state.items()):
                kind = KINDS.get(identity.split(":", 1)[0])
                if kind is not None and kind.persistence is persistence:
                    entries.append((knob_for(self.tree, identity), entry["value"], entry.get("data", {})))
            try:
                rendered_files = persistence.render_files(entries)
            except ValueError as exc:  # the format's own escaping function refused a value
                raise KnobError(str(exc))
            rendered.update(rendered_files)
        needed = any(text is not None for text in rendered.values())
        rendered.update(BOOT_RECOVERY.files_for(self.tree, self.journal.directory, needed))
        return dict((path, text.encode("utf-8") if text is not None else None) for path, text in rendered.items())

    def changes_for(self, desired, persist=True, rewrite=(), reassert_files=False):
        """What apply would do: changes to live values and to files, without touching anything.

        rewrite: identities written even where they hold the value now (a daemon the change stops first reverts
        them). reassert_files: every persistence file the managed state renders is written where it differs
        (a drift repair), not only when the state changes.
        """
        settings = self.validate(desired)
        changes = []
        for knob, value in settings:
            before = knob.read()
            changes.append({"knob": knob, "identity": knob.identity, "before": before, "after": value,
                            "changed": not knob.equal(before, value) or knob.identity in rewrite})
        requested = set(desired) | set(knob.identity for knob, dummy in settings)
        for change in list(changes):
            for identity in change["knob"].coupled() if change["changed"] else ():
                if identity not in requested:
                    requested.add(identity)
                    knob = knob_for(self.tree, identity)
                    # Journaled so rollback restores what the kernel changed on its own.
                    changes.append({"knob": knob, "identity": identity, "before": knob.read(), "after": None,
                                    "changed": False, "side_effect": True})
        state = self.journal.load_state()
        new_state = dict(state)
        if persist:
            new_state = _numbered_now(self.tree, new_state, set(knob.kind for knob, _value in settings))
            for change in changes:
                if change.get("side_effect"):  # this change resets it (a scheduler switch): the kernel's now
                    new_state.pop(change["identity"], None)
            for knob, value in settings:
                new_state[knob.identity] = {"value": value, "data": knob.persist_data()}
        planned_files = {}
        if new_state != state or reassert_files:
            planned_files = self.files_for(new_state)
        if new_state != state:
            state_text = json.dumps({"settings": new_state}, indent=1, sort_keys=True) + "\n"
            planned_files[self.journal.state_path] = state_text.encode("utf-8")
        elif state and not reassert_files:
            # The boot recovery as this collection and this Python make it: an upgrade or a new interpreter
            # must not leave an older helper, or a unit naming a Python that is gone, to run at the next boot.
            planned_files = dict((path, content) for path, content in self.files_for(state).items()
                                 if boot_recovery.is_own(path))
        file_changes = []

        def write_order(item):
            return boot_recovery.write_rank(item[0]), item[0]
        for path, content in sorted(planned_files.items(), key=write_order):
            try:
                snap = files.snapshot(self.tree, path)
            except OSError as exc:
                raise KnobError("%s: cannot be read to keep its old content: %s" % (path, _reason(exc)))
            if files.content_of(snap) != content:
                file_changes.append({"path": path, "snapshot": snap, "content": content})
        return changes, file_changes

    def _generated(self, path):
        """The journal's state and the collection's own programs: nothing an operator reviews line by line."""
        return path == self.journal.state_path or _mode(path) == 0o755

    # -- apply -------------------------------------------------------------
    def apply(self, desired, persist=True, check_mode=False, label=None, events=(), rewrite=(), reassert_files=False):
        changes, file_changes = self.changes_for(desired, persist, rewrite, reassert_files)
        result = {"changed": any(c["changed"] for c in changes) or bool(file_changes),
                  "settings": [_public(c) for c in changes if not c.get("side_effect")],
                  "files": [_file_public(f["path"], files.content_of(f["snapshot"]), f["content"],
                                         self._generated(f["path"])) for f in file_changes], "transaction": None}
        if check_mode or not result["changed"]:
            return result
        record = self.journal.new(label)
        record["events"].extend(events)
        record["settings"] = [_journaled(c) for c in changes if c["changed"] or c.get("side_effect")]
        record["files"] = [f["snapshot"] for f in file_changes]
        try:
            self.journal.save(record)
        except JournalError as exc:
            raise JournalError("%s; nothing was changed" % exc)
        result["transaction"] = record["id"]
        try:
            self.fault("journaled")
            # Files and their hooks first: a running irqbalance is restarted with our policy script before any
            # IRQ is placed, so it cannot move one between our write and the verify (or after it).
            for change in file_changes:
                self.fault("file " + change["path"])
                if change["content"] is None:
                    files.remove(self.tree, change["path"])
                else:
                    mode = 0o600 if change["path"] == self.journal.state_path else _mode(change["path"])
                    files.atomic_write(self.tree, change["path"], change["content"], mode)
            result["hooks"] = after_files_changed(self.tree, [change["path"] for change in file_changes])
            for change in changes:
                if change["changed"]:
                    self.fault("write " + change["identity"])
                    try:
                        change["knob"].write(change["after"])
                    except OSError as exc:
                        raise KnobError("%s: the kernel refused %r: %s" % (change["identity"], change["after"],
                                                                           _reason(exc)))
            self.fault("verify")
            self._verify(changes)
            record["state"] = COMMITTED
            self.journal.save(record)
        except Exception as exc:  # pylint: disable=broad-except
            record["events"].append("apply failed: %s" % _reason(exc))
            outcome = self._undo(record)
            result["settings"] = outcome["settings"]
            result["failed_setting"] = str(exc)
            raise TransactionError("apply failed, every change was rolled back%s%s: %s" % (
                "" if outcome["complete"] else " INCOMPLETELY (see settings)", _journal_note(outcome),
                _reason(exc)), result)
        self.fault("committed")
        for item in result["settings"]:
            item["status"] = "changed" if item["changed"] else "unchanged"
        return result

    def _verify(self, changes):
        for change in changes:
            if change.get("side_effect"):
                continue
            knob = change["knob"]
            now = knob.read()
            if not knob.equal(now, change["after"]) and knob.drifts:
                time.sleep(DRIFT_SETTLE)
                knob.write(change["after"])
                now = knob.read()
            if not knob.equal(now, change["after"]):
                raise KnobError("%s: the kernel kept %r instead of %r" % (change["identity"], now, change["after"]))

    # -- rollback ----------------------------------------------------------
    def _undo(self, record, forget=()):
        """Put back one transaction's values and files; journal that it began, then how it ended.

        A journal that cannot be saved (a full disk) does not stop the undo: the record stays unfinished on
        disk, so the next run sees it interrupted and its rollback finds the host already restored.
        """
        record["state"] = ROLLING_BACK
        record["events"].append("rollback began")
        unsaved = self._save_quietly(record)
        outcome = restore(self.tree, record["settings"], record["files"], forget=forget)
        for item in outcome["settings"]:
            if item["status"] == "forgotten":
                record["events"].append("forgot %s: %s" % (item["identity"], item["error"]))
        record["state"] = ROLLED_BACK if outcome["complete"] else INCOMPLETE
        record["events"].append("rolled back" if outcome["complete"] else "rollback incomplete")
        record["rollback"] = outcome["settings"]
        outcome["journal_error"] = self._save_quietly(record) or unsaved
        return outcome

    def _save_quietly(self, record):
        try:
            self.journal.save(record)
        except JournalError as exc:
            return str(exc)
        return None

    def _check_forget(self, forget, records):
        """KnobError unless every setting to forget is in these transactions and its device is really gone."""
        named = set(setting["identity"] for record in records for setting in record["settings"])
        problems = []
        for identity in forget:
            if identity not in named:
                problems.append("%s: not a setting of the transaction(s) being rolled back" % identity)
                continue
            if not vanished(self.tree, identity):
                problems.append("%s: is present on this host, so it is rolled back, not forgotten" % identity)
        if problems:
            raise KnobError("forget: %s" % "; ".join(problems))

    def _check_paths(self, record):
        """A record may name only the files a kind of this collection writes, and the state file."""
        foreign = [snap["path"] for snap in record["files"]
                   if snap["path"] != self.journal.state_path and _owner(snap["path"]) is None]
        if foreign:
            raise JournalError("journal record %s names %s, which no kind of this collection writes: refusing to "
                               "roll it back" % (record["id"], ", ".join(sorted(foreign))))

    def rollback(self, target="last", check_mode=False, forget=()):
        """Undo transactions newest first down to target: 'last', 'pristine', 'interrupted' or an id.

        forget names settings whose device is gone (a disk pulled, a NIC removed): they are reported as
        forgotten instead of leaving the transaction incomplete forever. A setting still present is refused.
        """
        records = [r for r in self.journal.transactions() if r["state"] in (COMMITTED,) + UNFINISHED]
        if target == "interrupted":
            chosen = [r for r in records if r["state"] in UNFINISHED]
        elif target == "last":
            chosen = records[-1:]
        elif target == "pristine":
            chosen = records
        else:
            ids = [r["id"] for r in records]
            if target not in ids:
                known = [r["id"] for r in self.journal.transactions()]
                why = "already rolled back" if target in known else "no such transaction on this host"
                raise KnobError("transaction %r: %s" % (target, why))
            chosen = records[ids.index(target):]
        chosen = list(reversed(chosen))
        for record in chosen:
            self._check_paths(record)
        self._check_forget(forget, chosen)
        result = {"changed": False, "transactions": [r["id"] for r in chosen], "settings": [], "files": [],
                  "interrupted": [r["id"] for r in records if r["state"] in UNFINISHED]}
        for record in chosen:
            pending = [s for s in record["settings"] if not _equal_now(self.tree, s)]
            pending_files = [f for f in record["files"] if not files.matches(self.tree, f)]
            result["changed"] = result["changed"] or bool(pending or pending_files) or record["state"] != COMMITTED
            for snap in pending_files:
                now = files.content_of(files.snapshot(self.tree, snap["path"]))
                result["files"].append(_file_public(snap["path"], now, files.content_of(snap),
                                                    self._generated(snap["path"])))
            if check_mode:
                result["settings"].extend({"identity": s["identity"], "before": s["after"], "after": s["before"],
                                           "transaction": record["id"]} for s in pending)
                continue
            outcome = self._undo(record, forget)
            for item in outcome["settings"]:
                item["transaction"] = record["id"]
            result["settings"].extend(outcome["settings"])
            result["changed"] = True
            if not outcome["complete"]:
                raise TransactionError("rollback of %s is incomplete (see settings)" % record["id"], result)
            if outcome["journal_error"]:
                raise TransactionError("rollback of %s restored every value and file%s" % (
                    record["id"], _journal_note(outcome)), result)
        return result

    def recover_at_boot(self):
        """Put back the files of every transaction a crash left applying or rolling back; newest first.

        Run by the boot recovery unit before the boot reads them, so the live values it makes are the ones
        from before. A unit's enablement persists without a file of ours: it is put back too, and this boot's
        job for it queued to match. The records stay unfinished: `rollback interrupted` then verifies the live
        values (and closes them) as after any interruption. A committed transaction's files are the apply's.
        """
        report = {"transactions": [], "errors": [], "warnings": []}
        if not self.journal.exists():
            return report
        with self.journal.lock():
            restored = []
            for record in reversed(self.journal.interrupted()):
                if record["state"] == TRIAL:
                    continue
                self._check_paths(record)
                done = []
                # Its own files stay: it runs now, and stays armed until `rollback interrupted` closes the record.
                for snap in [snap for snap in record["files"] if not boot_recovery.is_own(snap["path"])]:
                    try:
                        if not files.matches(self.tree, snap):
                            files.restore(self.tree, snap)
                            done.append(snap["path"])
                    except OSError as exc:
                        report["errors"].append("%s: cannot be put back: %s" % (snap["path"], _reason(exc)))
                for setting in record["settings"]:
                    done.extend(self._enablement_at_boot(setting, report))
                record["events"].append("boot recovery put back %d file(s) and unit(s) as they were before it"
                                        % len(done))
                error = self._save_quietly(record)
                if error:
                    report["errors"].append(error)
                report["transactions"].append({"id": record["id"], "state": record["state"], "files": done})
                restored.extend(done)
            # The boot already queued jobs from the files it read: a unit whose file is gone has its job
            # cancelled while systemd still knows it (before the reload), and no command may wait on a job here.
            hooks = []
            for path in restored:
                if path.startswith("/etc/systemd/system/") and path.endswith(".service") and \
                        not self.tree.exists(path):
                    result = self.tree.run(["systemctl", "--no-block", "stop", os.path.basename(path)])
                    hooks.append({"command": "systemctl --no-block stop " + os.path.basename(path),
                                  "rc": result.rc, "error": (result.stderr or "").strip() if not result.ok else ""})
            hooks.extend(after_files_changed(self.tree, [path for path in restored if path.startswith("/")],
                                             no_block=True))
        report["warnings"].extend("%s: rc %d %s" % (hook["command"], hook["rc"], hook["error"])
                                  for hook in hooks if hook["rc"])
        report["warnings"].extend("%s: not run at boot: %s" % (hook["command"], hook["skipped"])
                                  for hook in hooks if hook.get("skipped"))
        return report

    def _enablement_at_boot(self, setting, report):
        """A unit's enabled state as before the transaction, and this boot's job for it to match."""
        if not (setting["identity"].startswith("service:") and setting["identity"].endswith(":enabled")):
            return []
        try:
            knob = located(self.tree, setting)
            if knob.equal(knob.read(), setting["before"]):
                return []
            knob.write(setting["before"])
        except (OSError, KnobError) as exc:
            report["errors"].append("%s: cannot be put back: %s" % (setting["identity"], _reason(exc)))
            return []
        verb = "start" if setting["before"] == "enabled" else "stop"
        self.tree.run(["systemctl", "--no-block", verb, knob.unit])
        return ["%s (%s, %s queued)" % (setting["identity"], setting["before"], verb)]


def restore(tree, settings, snapshots, passes=2, forget=()):
    """Write back every 'before' value in dependency order, then the files; verify.

    Two passes: a value that a later write resets (nr_requests after a
    scheduler switch) is written again, and a module its qdiscs held in the first is unloaded in the second. A
    setting in forget whose device is gone is reported as forgotten; one that only settles later (a module
    still in use) as deferred, with the reason, and the rollback is complete.
    """
    knobs = []
    outcome = {"complete": True, "settings": []}
    for setting in settings:
        gone = vanished(tree, setting["identity"]) if setting["identity"] in forget else None
        if gone:
            outcome["settings"].append({"identity": setting["identity"], "status": "forgotten", "error": gone})
            continue
        try:
            knobs.append((located(tree, setting), setting))
        except KnobError as exc:
            outcome["settings"].append({"identity": setting["identity"], "status": "failed", "error": str(exc)})
            outcome["complete"] = False
    knobs.sort(key=lambda item: (item[0].order, item[0].identity))
    written = [(knob, setting) for knob, setting in knobs if not knob.borne_by_files]
    errors, now = {}, {}
    for dummy in range(passes):
        errors = {}
        for knob, setting in written:
            try:
                if not knob.equal(knob.read(), setting["before"]):
                    knob.write(setting["before"])
            except (OSError, KnobError) as exc:
                errors[knob.identity] = _reason(exc)
        # Read after the whole pass: a later write may have reset an earlier value.
        now = dict((knob.identity, _read(knob)) for knob, dummy in written)
        if not errors and all(knob.equal(now[knob.identity], setting["before"]) for knob, setting in written):
            break
    restored, unrestored = [], []
    for snap in sorted(snapshots, key=lambda snap: boot_recovery.restore_rank(snap["path"])):
        try:
            if not files.matches(tree, snap):
                files.restore(tree, snap)
                restored.append(snap["path"])
        except OSError as exc:
            unrestored.append({"identity": "file:" + snap["path"], "status": "failed", "error": _reason(exc)})
    # A boot recovery may have put the files back already: what their hooks generate may still be the apply's.
    regenerate = [snap["path"] for snap in snapshots for knob, setting in knobs if knob.borne_by_files and
                  knob.persistence.owns(snap["path"]) and not knob.equal(_read(knob), setting["before"])]
    outcome["hooks"] = after_files_changed(tree, restored + regenerate)
    now.update((knob.identity, _read(knob)) for knob, dummy in knobs if knob.borne_by_files)
    for knob, setting in knobs:
        ok = knob.equal(now[knob.identity], setting["before"])
        item = {"identity": knob.identity, "before": setting["after"], "after": setting["before"],
                "status": "restored" if ok else "failed"}
        if knob.identity != setting["identity"]:
            item["journaled_as"] = setting["identity"]  # renumbered since (an IRQ after a boot)
        later = None if ok else _settles_later(knob, setting["before"])
        if later:
            item.update(status="deferred", reason=later)
        elif not ok:
            item["error"] = errors.get(knob.identity, "reads %r after restore" % (now[knob.identity],))
            outcome["complete"] = False
        outcome["settings"].append(item)
    outcome["settings"].extend(unrestored)
    outcome["complete"] = outcome["complete"] and not unrestored
    return outcome


def vanished(tree, identity):
    """Why the setting's device is gone (it cannot be named or read any more), or None while it is there."""
    try:
        knob_for(tree, identity).read()
    except (KnobError, OSError) as exc:
        return _reason(exc)
    return None


def _owner(path):
    for kind in KINDS.values():
        if kind.persistence.owns(path):
            return kind.persistence
    return BOOT_RECOVERY if BOOT_RECOVERY.owns(path) else None


def _mode(path):
    owner = _owner(path)
    return owner.mode(path) if owner else 0o644


def after_files_changed(tree, paths, no_block=False):
    """Run each changed kind's hook once (daemon-reload); a failing hook is reported, not fatal.

    no_block: queue systemctl's jobs instead of waiting for them (at boot, from a unit the boot waits for).
    """
    commands, report = [], []
    for path in paths:
        owner = _owner(path)
        if owner and no_block and owner.boot_unsafe:
            for argv in owner.hooks(tree):
                skipped = {"command": " ".join(argv), "rc": 0, "skipped": owner.boot_unsafe}
                if skipped not in report:
                    report.append(skipped)
            continue
        for argv in owner.hooks(tree) if owner else ():
            argv = list(argv)
            if no_block and argv[0] == "systemctl" and argv[1] != "daemon-reload":
                argv.insert(1, "--no-block")
            if argv not in commands:
                commands.append(argv)
    if not tree.runs_systemd():
        commands = [argv for argv in commands if argv[0] != "systemctl"]
    for argv in commands:
        result = tree.run(argv, timeout=HOOK_TIMEOUT)
        report.append({"command": " ".join(argv), "rc": result.rc,
                       "error": (result.stderr or "").strip() if not result.ok else ""})
    return report


def _read(knob):
    try:
        return knob.read()
    except (OSError, KnobError) as exc:
        return "<unreadable: %s>" % _reason(exc)


def _settles_later(knob, value):
    try:
        return knob.settles_later(value)
    except (OSError, KnobError):
        return None


def located(tree, setting):
    """The knob a journaled setting names, found again by its whereabouts where a boot renumbered it."""
    return knob_for(tree, setting["identity"]).relocated(setting.get("where"))


def _numbered_now(tree, state, kinds):
    """state keyed by the numbers its objects have now (IRQs a boot renumbered, found by name), for the kinds a
    request persists: an entry placed again must replace its own old entry, never another IRQ's that a boot gave
    the number it had. An entry whose IRQ is gone keeps its number unless a found one has it now (then nothing
    names it any more; the transaction's snapshot of the state still does)."""
    kept, found = {}, {}
    for identity, entry in state.items():
        where = where_persisted(identity, entry) if identity.split(":", 1)[0] in kinds else None
        try:
            now = knob_for(tree, identity).relocated(where).identity if where is not None else None
        except KnobError:
            now = None
        (found if now else kept)[now or identity] = entry
    kept.update(found)
    return kept


def _journaled(change):
    entry = {"identity": change["identity"], "before": change["before"], "after": change["after"]}
    where = change["knob"].whereabouts()
    if where is not None:
        entry["where"] = where
    return entry


def _equal_now(tree, setting):
    try:
        knob = located(tree, setting)
        return knob.equal(knob.read(), setting["before"])
    except (OSError, KnobError):
        return False


def _journal_note(outcome):
    if not outcome.get("journal_error"):
        return ""
    return (", but the journal could not record it (%s): the record still says unfinished; run the rollback "
            "again once the journal can be written" % outcome["journal_error"])


def _reason(exc):
    if isinstance(exc, OSError) and exc.strerror:
        return "%s (%s)" % (exc.strerror, exc.filename or "") if exc.filename else exc.strerror
    return str(exc)


def _public(change):
    public = {"identity": change["identity"], "before": change["before"], "after": change["after"],
              "changed": change["changed"]}
    disruption = change["knob"].disruption() if change["changed"] else None
    if disruption:
        public["disruption"] = disruption
    return public


def _file_public(path, before, after, generated=False):
    action = "created" if before is None else "removed" if after is None else "updated"
    return {"path": path, "action": action, "generated": generated,
            "before": before.decode("utf-8", "replace") if before is not None else "",
            "after": after.decode("utf-8", "replace") if after is not None else ""}
