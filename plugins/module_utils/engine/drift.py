# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is the host still as the collection left it? Per managed identity, the live value against the one the journal
says it holds, each persistence file against what the managed state renders, and who changed it where the host
can tell: a claim (a later sysctl.d line, tuned, bpftune, a NetworkManager profile), irqbalance without our
policy script, or a reboot since the transaction (the kernel's boot id, not the clock, which may have stepped).

A repair is no side channel: it is the drifted values (and files) sent to tune as a new transaction.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import COMMITTED, UNFINISHED, current_boot
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine, _owner, _reason
from ansible_collections.hostperf.tuning.plugins.module_utils.host import files
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.irq import HELPER_PATH
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import knob_for, where_persisted
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.coexistence import Coexistence, host_claim_facts

IN_SYNC, DRIFTED, GONE, UNSETTLED = "in_sync", "drifted", "gone", "unsettled"


def managed_settings(records, state):
    """{identity: {value, where, transaction, boot, persisted}}: what each managed identity holds live by the
    journal, the newest committed transaction that set it (a live-only one included), else the state (its
    transaction forgotten); persisted is the value the next boot sets, or None."""
    managed = {}
    for record in records:
        if record["state"] != COMMITTED:
            continue
        for setting in record["settings"]:
            if setting["after"] is None:  # a coupled value, journaled only to be put back
                continue
            managed[setting["identity"]] = {"value": setting["after"], "where": setting.get("where"),
                                            "transaction": record["id"], "boot": record.get("boot"),
                                            "persisted": None}
    for identity, entry in state.items():
        item = managed.setdefault(identity, {"value": entry["value"], "where": None, "transaction": None,
                                             "boot": None, "persisted": None})
        item["persisted"] = entry["value"]
        item["where"] = item["where"] or where_persisted(identity, entry)
    return managed


class DriftReport:
    """What drift_info returns for one host."""

    def __init__(self, tree, journal, coexistence="refuse"):
        self.tree, self.journal = tree, journal
        self.engine = Engine(tree, journal)
        self.mode = coexistence
        self.boot = current_boot(tree)

    def build(self):
        records = self.journal.transactions()
        state = self.journal.load_state()
        unfinished = [record for record in records if record["state"] in UNFINISHED]
        unsettled = dict((setting["identity"], record) for record in unfinished for setting in record["settings"])
        facts = host_claim_facts(self.tree)
        environment = facts["environment"]
        claims = Coexistence(facts, True, self.mode)
        drifted_files = self._files(state)
        settings, repair = [], {}
        for identity, item in sorted(managed_settings(records, state).items()):
            entry = self._judge(identity, item, unsettled.get(identity), claims, environment, drifted_files)
            settings.append(entry)
            if entry.get("repair"):
                repair[entry.pop("repair")] = item["value"]
        drifted = [entry for entry in settings if entry["status"] != IN_SYNC]
        return {
            "drifted": bool(drifted or drifted_files or unfinished),
            "settings": settings,
            "files": drifted_files,
            "interrupted": ["%s (%s)" % (record["id"], record["state"]) for record in unfinished],
            "repair": repair,
            "repair_files": bool(drifted_files) and not unfinished,
            "boot": self.boot,
            "summary": self._summary(settings, drifted_files, unfinished),
        }

    def _files(self, state):
        """[{path, status, cause}] of the persistence files that differ from what the state renders."""
        if not state:
            return []
        try:
            wanted = self.engine.files_for(state)
        except KnobError as exc:
            return [{"path": self.journal.state_path, "status": "unrenderable", "cause": str(exc)}]
        drifted = []
        for path, content in sorted(wanted.items()):
            try:
                now = files.content_of(files.snapshot(self.tree, path))
            except OSError as exc:
                drifted.append({"path": path, "status": "unreadable", "cause": _reason(exc)})
                continue
            if now == content:
                continue
            if content is None:
                status, cause = "created", "exists, but the managed state has nothing to write there"
            elif now is None:
                status, cause = "removed", "removed since the collection wrote it"
            elif _owner(path) and _owner(path).mode(path) == 0o755:
                status, cause = "edited", "differs from what this version of the collection writes (an upgrade " \
                                          "of the collection, or edited)"
            else:
                status, cause = "edited", "edited since the collection wrote it"
            drifted.append({"path": path, "status": status, "cause": cause})
        return drifted

    def _judge(self, identity, item, unsettled, claims, environment, drifted_files):
        entry = {"identity": identity, "managed": item["value"], "persisted": item["persisted"] is not None,
                 "transaction": item["transaction"]}
        if unsettled is not None:
            entry.update(status=UNSETTLED, live=None, who="journal",
                         cause="transaction %s is %s: roll it back (rollback target=interrupted) before judging"
                               % (unsettled["id"], unsettled["state"]))
            return entry
        try:
            knob = knob_for(self.tree, identity).relocated(item["where"])
            live = knob.read()
        except (KnobError, OSError) as exc:
            entry.update(status=GONE, live=None, who="device", cause="cannot be read: %s" % _reason(exc))
            return entry
        entry["live"] = live
        if knob.identity != identity:
            entry["now"] = knob.identity  # a boot gave the device another number
        if knob.equal(live, item["value"]):
            entry["status"] = IN_SYNC
            return entry
        entry["status"] = DRIFTED
        who, cause, repairable = self._cause(knob, item, claims, environment, drifted_files)
        entry.update(who=who, cause=cause)
        if repairable:
            entry["repair"] = knob.identity
        return entry

    def _cause(self, knob, item, claims, environment, drifted_files):
        """(who, why, whether re-asserting it through tune can hold)."""
        claimed = claims.claims(knob.identity, item["value"])
        if claimed:
            claim = claimed[0]
            return claim.who, claim.why, claim.takeable and claims.take
        irqbalance = environment.get("irqbalance") or {}
        if knob.kind == "irq" and irqbalance.get("running") and irqbalance.get("policy_script") != HELPER_PATH:
            return "irqbalance", ("irqbalance runs without the collection's policy script (%s), so it moves "
                                  "the IRQs it discovers; restart it with the drop-in in place"
                                  % (irqbalance.get("policy_script") or "none")), True
        rebooted = item["boot"] is not None and self.boot is not None and item["boot"] != self.boot
        if rebooted and item["persisted"] is None:
            return "reboot", "a reboot since transaction %s lost it: it was set live only (persist: false)" \
                % item["transaction"], True
        if rebooted and not knob.equal(item["persisted"], item["value"]):
            return "reboot", "a reboot since transaction %s set the persisted value %r: the newer one was " \
                             "set live only" % (item["transaction"], item["persisted"]), True
        edited = ["%s (%s)" % (entry["path"], entry["status"]) for entry in drifted_files
                  if knob.persistence.owns(entry["path"])]
        if edited:
            return "file", "its persistence file changed: %s%s" % (
                ", ".join(edited), ", and a reboot since read it" if rebooted else ""), True
        if rebooted:
            return "reboot", ("the boot since transaction %s did not set it, though its persistence file holds "
                              "it (a failed unit or udev rule, or something that ran later)"
                              % item["transaction"]), True
        return "unknown", "changed live since %s by something outside this collection (no claim on it " \
                          "was found)" % ("transaction %s" % item["transaction"] if item["transaction"]
                                          else "it was set"), True

    @staticmethod
    def _summary(settings, drifted_files, unfinished):
        lines = ["interrupted: %s" % record["id"] for record in unfinished]
        for entry in settings:
            if entry["status"] == IN_SYNC:
                continue
            lines.append("%s: %s %r, live %r, by %s: %s" % (
                entry["identity"], "managed", entry["managed"], entry["live"], entry["who"], entry["cause"]))
        lines.extend("%s: %s, %s" % (entry["path"], entry["status"], entry["cause"]) for entry in drifted_files)
        return lines
