# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Switch a committed transaction's live values between before and after, for trials measured in pairs.

A change measured as a block of baseline trials, then a block of after
trials, is judged together with whatever drifted on the host in between.
Measured in pairs (each pair's two trials in random order), drift lands on
both sides alike. This switches between the two states; the journal already
holds both.

Only live values switch; files stay as the change wrote them (nothing reads
them until a boot). For the whole run the transaction is ``on_trial``: a run
killed on either side leaves it interrupted, so the next tune refuses and
``rollback`` (last or interrupted) puts the host back exactly, as for any
transaction. The run always ends on the after side, verified, committed again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import COMMITTED, TRIAL
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import restore
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import (
    SWITCH_CHEAP, SWITCH_COSTLY, SWITCH_INERT, KnobError)
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import knob_for

SIDES = ("before", "after")


class SwitchError(Exception):
    """The host cannot be switched (a costly setting, not the newest transaction) or refused a switch."""


def switch_costs(tree, settings):
    """{identity: cost} for a transaction's settings (side effects the kernel made follow their cause)."""
    costs = {}
    for setting in settings:
        if setting.get("after") is None:
            continue
        try:
            costs[setting["identity"]] = knob_for(tree, setting["identity"]).switch_cost()
        except KnobError:
            costs[setting["identity"]] = SWITCH_COSTLY
    return costs


def pairs_possible(tree, settings):
    """(True, None), or (False, why): whether every setting of a change can be switched between trials."""
    costs = switch_costs(tree, settings)
    costly = sorted(identity for identity, cost in costs.items() if cost == SWITCH_COSTLY)
    if costly:
        return False, "%s cannot be switched between trials (%s)" % (
            ", ".join(costly[:3]) + (" and %d more" % (len(costly) - 3) if len(costly) > 3 else ""),
            "a link reset, a restarted daemon or reserved memory each time")
    if not any(cost == SWITCH_CHEAP for cost in costs.values()):
        return False, "nothing the change made live can be switched"
    return True, None


class Switch:
    """Use as a context manager around the trials: ``with Switch(tree, journal, id) as switch: switch.to(side)``."""

    def __init__(self, tree, journal, transaction):
        self.tree, self.journal, self.transaction = tree, journal, transaction
        # None: the first to() writes and verifies its side, so drift since the commit is not measured as after
        self.record, self.side, self.switches = None, None, 0

    def __enter__(self):
        self.journal.lock()
        try:
            self.record = self._switchable()
            self.record["state"] = TRIAL
            self.record["events"].append("measured in pairs: live values switch between before and after")
            self.journal.save(self.record)
        except BaseException:
            self.journal.unlock()
            raise
        return self

    def check(self):
        """Check mode: SwitchError when the run would be refused; reads only (no lock, no journal write)."""
        self._switchable()

    def _switchable(self):
        unfinished = self.journal.interrupted()
        if unfinished:
            raise SwitchError("transaction(s) %s were interrupted; roll them back before measuring in pairs"
                              % ", ".join(record["id"] for record in unfinished))
        committed = [record for record in self.journal.transactions() if record["state"] == COMMITTED]
        newest = committed[-1]["id"] if committed else None
        if newest != self.transaction:
            raise SwitchError("transaction %r is not the host's newest committed one (%s): only that one's "
                              "before is the state the host would go back to" % (self.transaction, newest or "none"))
        record = committed[-1]
        possible, why = pairs_possible(self.tree, record["settings"])
        if not possible:
            raise SwitchError("transaction %s: %s" % (self.transaction, why))
        return record

    def to(self, side):
        """Make one side live and verify it; SwitchError with the kernel's answer when it refuses."""
        if side not in SIDES:
            raise SwitchError("side must be before or after, not %r" % (side,))
        if side == self.side:
            return
        costs = switch_costs(self.tree, self.record["settings"])
        other = "after" if side == "before" else "before"
        wanted = [dict(identity=setting["identity"], before=setting[side], after=setting[other],
                       where=setting.get("where"))
                  for setting in self.record["settings"]
                  if costs.get(setting["identity"], SWITCH_CHEAP) != SWITCH_INERT
                  and setting[side] is not None]
        self.side = "switching"
        outcome = restore(self.tree, wanted, [])
        if not outcome["complete"]:
            failed = [item for item in outcome["settings"] if item["status"] == "failed"]
            raise SwitchError("switching to %s failed: %s" % (side, "; ".join(
                "%s: %s" % (item["identity"], item.get("error")) for item in failed)))
        self.side = side
        self.switches += 1

    def __exit__(self, kind, error, trace):
        try:
            self.to("after")
            self.record["state"] = COMMITTED
            self.record["events"].append("pairs measured: %d switches, ended on the after side" % self.switches)
            self.journal.save(self.record)
        finally:
            self.journal.unlock()
        return False
