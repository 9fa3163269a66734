# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every rule writes into: planned settings with their reasons, notes and errors.

A rule is a pure function of a host's facts (host_facts' shape) and a
request, so the planner on the controller and tune on the host decide the
same way from the same facts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import scope_of
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.scope import Ownership
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.coexistence import claims_text

RISKS = ("low", "medium", "high")
# What a profile section's values may be, for the profile checker.
POSITIVE, SHARE, FLAG, TEXT, AMOUNT, CHOICES = "positive", "share", "flag", "text", "amount", "choices"


class Section:
    """One section of a profile: the rule that plans it, and the shape its values must have.

    shape maps each key to a kind of value (or a nested shape; "*" for any key).
    """

    def __init__(self, name, rule, shape):
        self.name = name
        self.rule = rule
        self.shape = shape


class Plan:
    """The settings planned for one host, in the order the rules made them."""

    def __init__(self, host=None, profile=None, ownership=None, coexistence=None):
        self.host = host
        self.profile = profile
        self.ownership = ownership or Ownership(None)
        self.coexistence = coexistence
        self.entries = {}
        self.notes = []
        self.errors = []
        self.not_owned = set()
        self.claimed, self.taken = {}, {}

    def owns(self, identity, value=None):
        """Whether this host may take the setting: a container's plan leaves the machine's settings out, and
        every plan those another file or daemon would undo (rules.coexistence), unless it takes them."""
        try:
            scope = scope_of(identity)
        except KnobError:
            return True  # a misspelled identity is reported by the rule that checks it
        if not self.ownership.owns(scope):
            self.not_owned.add(identity)
            return False
        claims = self.coexistence.claims(identity, value) if self.coexistence else []
        blocking = [claim for claim in claims if self.coexistence.blocks(claim)]
        if blocking:
            self.claimed[identity] = blocking[0]
            return False
        self.taken.pop(identity, None)
        if claims:
            self.taken[identity] = claims
        return True

    def release_taken(self):
        """Plan what stops the daemons whose settings this plan takes; a note says it."""
        by_who = {}
        for identity, claims in self.taken.items():
            for claim in claims if identity in self.entries else ():
                by_who.setdefault(claim.who, (claim, []))[1].append(identity)
        for who, (claim, identities) in sorted(by_who.items()):
            for unit_setting, value in sorted(claim.release().items()):
                self.add(unit_setting, value, "active" if value == "inactive" else "enabled",
                         "%s would undo %d planned settings (%s); taken with coexistence=take, its rollback starts "
                         "it again" % (who, len(identities), ", ".join(sorted(identities)[:3]) + (
                             ", ..." if len(identities) > 3 else "")), "medium", "coexistence")

    def add(self, identity, value, current, reason, risk="low", source="profile"):
        """Plan a setting; overrides replace what a profile planned, but two selectors may not disagree.

        False when the host does not own it (it is left out, with one note for all such settings).
        """
        if not self.owns(identity, value):
            return False
        previous = self.entries.get(identity)
        if previous is not None and source == previous["source"] == "selector" and \
                str(previous["value"]) != str(value):
            self.errors.append("%s is asked for twice with different values: %s (%s) and %s (%s); which one is "
                               "meant?" % (identity, previous["value"], previous["reason"], value, reason))
            return True
        self.entries[identity] = {"identity": identity, "value": value, "current": current, "reason": reason,
                                  "risk": risk, "source": source}
        return True

    @property
    def settings(self):
        return dict((identity, entry["value"]) for identity, entry in self.entries.items())

    def result(self):
        entries = sorted(self.entries.values(), key=lambda entry: entry["identity"])
        for entry in entries:
            entry["changes"] = entry["current"] is None or str(entry["current"]) != str(entry["value"])
        notes = self.notes + (["left out: " + self.ownership.refusal(self.not_owned)] if self.not_owned else []) + (
            ["left out: " + claims_text(self.claimed)] if self.claimed else [])
        return {"host": self.host, "profile": self.profile, "settings": dict(
            (entry["identity"], entry["value"]) for entry in entries), "entries": entries, "notes": notes,
            "errors": self.errors}


def sysctl_current(facts, key):
    value = ((facts.get("kernel") or {}).get("sysctl") or {}).get(key)
    return " ".join(str(value).split()) if value is not None else None


def at_least(value, current):
    """tuned's ">N": N, unless the current value is already at least N. -> (value, keep the current one)"""
    text = str(value).strip()
    if not text.startswith(">"):
        return value, False
    number = text[1:].strip()
    try:
        return number, current is not None and int(str(current).split()[-1]) >= int(number)
    except ValueError:
        return number, False
