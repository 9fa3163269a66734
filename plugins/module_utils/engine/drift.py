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
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.irq import HELPER_PATH, IRQBALANCE_DROPIN
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import knob_for, where_persisted
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.coexistence import Coexistence, host_claim_facts

IN_SYNC, DRIFTED, GONE, UNSETTLED = "in_sync", "drifted", "gone", "unsettled"


def _key(identity, where):
    """One managed object: an IRQ by its name (a boot renumbers it), anything else by its identity."""
    return (identity.split(":", 1)[0], where) if where is not None else identity


def managed_settings(records, state):
    """{key: {identity, value, where, transaction, boot, persisted}}: what each managed object holds live by the
    journal, the newest committed transaction that set it (a live-only one included), else the state (its
    transaction forgotten); persisted is the value the next boot sets, or None. A value a later transaction of
    ours reset as a side effect (nr_requests by a scheduler switch) is the kernel's since, not managed."""
    managed = {}
    for record in records:
        if record["state"] != COMMITTED:
            continue
        for setting in record["settings"]:
            key = _key(setting["identity"], setting.get("where"))
            if setting["after"] is None:
                managed.pop(key, None)
                continue
            managed[key] = {"identity": setting["identity"], "value": setting["after"], "where": setting.get("where"),
                            "transaction": record["id"], "boot": record.get("boot"), "persisted": None}
    for identity, entry in state.items():
        where = where_persisted(identity, entry)
        item = managed.setdefault(_key(identity, where), {"identity": identity, "value": entry["value"], "where": where,
                                                          "transaction": None, "boot": None, "persisted": None})
        item["persisted"] = entry["value"]
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
        self.environment = facts["environment"]
        # who may have changed it: since a boot, what a boot runs counts; before one, only what runs now
        self.booted_claims = Coexistence(facts, True, self.mode)
        self.running_claims = Coexistence(facts, True, self.mode, booted=False)
        # what a repair meets in tune, persisted or live only
        self.live_claims = Coexistence(facts, False, self.mode)
        self.drifted_files = self._files(state)
        settings, repair, repair_live = [], {}, {}
        for _key_, item in sorted(managed_settings(records, state).items(), key=lambda pair: pair[1]["identity"]):
            entry = self._judge(item, unsettled.get(item["identity"]))
            settings.append(entry)
            target = entry.pop("repair", None)
            if target:
                (repair_live if entry["live_only"] else repair)[target] = item["value"]
        drifted = [entry for entry in settings if entry["status"] != IN_SYNC]
        return {
            "drifted": bool(drifted or self.drifted_files or unfinished),
            "settings": settings,
            "files": self.drifted_files,
            "interrupted": ["%s (%s)" % (record["id"], record["state"]) for record in unfinished],
            "repair": {} if unfinished else repair,
            "repair_live": {} if unfinished else repair_live,
            "repair_files": bool(self.drifted_files) and not unfinished,
            "boot": self.boot,
            "summary": self._summary(settings, self.drifted_files, unfinished),
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

    def _judge(self, item, unsettled):
        identity = item["identity"]
        live_only = item["persisted"] is None
        entry = {"identity": identity, "managed": item["value"], "persisted": not live_only,
                 "transaction": item["transaction"]}
        if unsettled is not None:
            entry.update(status=UNSETTLED, live=None, who="journal", live_only=live_only,
                         cause="transaction %s is %s: roll it back (rollback target=interrupted) before judging"
                               % (unsettled["id"], unsettled["state"]))
            return entry
        try:
            knob = knob_for(self.tree, identity).relocated(item["where"])
            live = knob.read()
        except (KnobError, OSError) as exc:
            entry.update(status=GONE, live=None, who="device", live_only=live_only,
                         cause="cannot be read: %s" % _reason(exc))
            return entry
        live_only = live_only or not knob.equal(item["persisted"], item["value"])
        entry.update(live=live, persisted=not live_only, live_only=live_only)
        if knob.identity != identity:
            entry["now"] = knob.identity  # a boot gave the device another number
        if knob.equal(live, item["value"]):
            entry["status"] = IN_SYNC
            return entry
        rebooted = item["boot"] is not None and self.boot is not None and item["boot"] != self.boot
        spent = knob.spent_by_boot(item["value"])
        if spent is not None and item["persisted"] is not None and knob.equal(item["persisted"], live):
            entry.update(status=IN_SYNC, spent="ended by a later transaction")
            return entry
        if spent is not None and rebooted:
            if spent[0]:  # the boot loader took it once, as it should
                entry.update(status=IN_SYNC, spent=spent[1])
            else:
                entry.update(status=DRIFTED, who="reboot", cause=spent[1], not_repaired=(
                    "a repair would arm it again for the next boot; arm a new trial (tune boot_trial) or make "
                    "the parameters the default"))
            return entry
        who, cause = self._cause(knob, item, rebooted, live_only)
        blocked = self._blocked(knob, item["value"], live_only, who)
        entry.update(status=DRIFTED, who=who, cause=cause)
        if blocked:
            entry["not_repaired"] = blocked
        else:
            entry["repair"] = knob.identity
        return entry

    def _cause(self, knob, item, rebooted, live_only):
        """(who, why): the likeliest actor the host shows."""
        claims = self.booted_claims if rebooted else self.running_claims
        claimed = claims.claims(knob.identity, item["value"])
        if claimed:
            return claimed[0].who, claimed[0].why
        irqbalance = self.environment.get("irqbalance") or {}
        if knob.kind == "irq" and irqbalance.get("running") and irqbalance.get("policy_script") != HELPER_PATH:
            return "irqbalance", ("irqbalance runs without the collection's policy script (%s), so it moves "
                                  "the IRQs it discovers" % (irqbalance.get("policy_script") or "none"))
        since = "transaction %s" % item["transaction"] if item["transaction"] else "it was set"
        if rebooted and item["persisted"] is None:
            return "reboot", "a reboot since %s lost it: it was set live only (persist: false)" % since
        if rebooted and live_only:
            return "reboot", "a reboot since %s set the persisted value %r: the newer one was set live only" % (
                since, item["persisted"])
        edited = ["%s (%s)" % (entry["path"], entry["status"]) for entry in self.drifted_files
                  if knob.persistence.owns(entry["path"])]
        if edited:
            return "file", "its persistence file changed: %s%s" % (
                ", ".join(edited), ", and a reboot since read it" if rebooted else "")
        if rebooted:
            return "reboot", ("the boot since %s did not set it, though its persistence file holds it (a failed "
                              "unit or udev rule, or something that ran later)" % since)
        return "unknown", "changed live since %s by something outside this collection (no claim on it was " \
                          "found)" % since

    def _blocked(self, knob, value, live_only, who):
        """Why re-asserting it through tune would fail or not hold, or None."""
        if who == "irqbalance" and not any(entry["path"] == IRQBALANCE_DROPIN for entry in self.drifted_files):
            return ("irqbalance would move it again: restart irqbalance (systemctl restart irqbalance) so it "
                    "starts with the collection's drop-in, then repair")
        claims = self.live_claims if live_only else self.booted_claims
        blocking = [claim for claim in claims.claims(knob.identity, value) if claims.blocks(claim)]
        if blocking:
            return "a repair would be refused or undone: %s" % blocking[0].why
        return None

    @staticmethod
    def _summary(settings, drifted_files, unfinished):
        lines = ["interrupted: %s" % record["id"] for record in unfinished]
        for entry in settings:
            if entry["status"] == IN_SYNC:
                continue
            lines.append("%s: managed %r, live %r, by %s: %s%s" % (
                entry["identity"], entry["managed"], entry["live"], entry["who"], entry["cause"],
                "; not repaired: %s" % entry["not_repaired"] if entry.get("not_repaired") else ""))
        lines.extend("%s: %s, %s" % (entry["path"], entry["status"], entry["cause"]) for entry in drifted_files)
        return lines
