# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who else sets what we would set, so a tune is not undone behind the gate's back at the next boot or restart.

- a sysctl.d file a boot applies after ours: the administrator's word, never
  taken; the setting is left out (planner) or refused (tune), naming the line;
- tuned, running or enabled: its profile's plugins set disks, the CPU clock,
  THP, NICs and IRQs when it starts, after udev applied ours; its sysctls too,
  unless it re-applies sysctl.d after them (reapply_sysctl, the default) and
  ours are persisted there;
- bpftune, running or enabled: it auto-tunes net.* sysctls, and steps back
  from a key only when it sees it written while it runs, not from the value a
  boot set before it started.
A daemon's claims can be taken (coexistence=take): the daemon is stopped and
disabled by settings of the same transaction, which its rollback starts again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.sysctl_files import overriding

COEXISTENCE_MODES = ("refuse", "take")
_TUNED_KINDS = ("block", "cpufreq", "thp", "nic", "irq")


class Claim:
    """Someone else's hold on a setting: a file line (not takeable) or a daemon (its unit's settings take it)."""

    def __init__(self, who, why, unit=None, running=False, enabled=False):
        self.who, self.why, self.unit, self.running, self.enabled = who, why, unit, running, enabled

    @property
    def takeable(self):
        return self.unit is not None

    def release(self):
        """{identity: value} that stop the daemon now and at boot."""
        settings = {}
        if self.running:
            settings["service:%s:active" % self.unit] = "inactive"
        if self.enabled:
            settings["service:%s:enabled" % self.unit] = "disabled"
        return settings


class Coexistence:
    """The claims on a host's settings, from its facts (environment, kernel.sysctl_set_after_ours)."""

    def __init__(self, facts, persist=True, mode="refuse"):
        self.environment = facts.get("environment") or {}
        self.after = (facts.get("kernel") or {}).get("sysctl_set_after_ours") or {}
        self.persist, self.take = persist, mode == "take"
        # a unit enabled where systemd is not init (a container image, a sandbox) never starts
        self.boots = self.environment.get("init") == "systemd"
        self.daemons = [claim for claim in (self._tuned(), self._bpftune()) if claim]

    def _tuned(self):
        tuned = self.environment.get("tuned") or {}
        running, enabled = tuned.get("running"), tuned.get("enabled") and self.boots
        if not (running or enabled):
            return None
        return Claim("tuned", "tuned (%s, profile %s) sets these when it starts" % (
            "running" if running else "enabled", tuned.get("profile")), "tuned.service", running, enabled)

    def _bpftune(self):
        bpftune = self.environment.get("bpftune") or {}
        running, enabled = bpftune.get("running"), bpftune.get("enabled") and self.boots
        if not (running or enabled):
            return None
        return Claim("bpftune", "bpftune (%s) auto-tunes net.* sysctls, those a boot set included" % (
            "running" if running else "enabled"), "bpftune.service", running, enabled)

    def claim(self, identity):
        """The Claim on identity, or None."""
        kind, _sep, name = identity.partition(":")
        if kind == "sysctl" and self.persist:
            line = overriding(self.after, name)
            if line:
                return Claim(line["file"], "%s line %d sets %s = %s after ours at boot; change it there"
                             % (line["file"], line["line"], name, line["value"]))
        for daemon in self.daemons:
            if daemon.who == "tuned" and (kind in _TUNED_KINDS or kind == "sysctl" and not (
                    self.persist and (self.environment.get("tuned") or {}).get("reapply_sysctl", True))):
                return daemon
            if daemon.who == "bpftune" and kind == "sysctl" and name.startswith("net."):
                return daemon
        return None

    def blocks(self, claim):
        return not (claim.takeable and self.take)


def claims_text(claims):
    """{identity: Claim} as one line per claimant, for a note or an error."""
    by_why = {}
    for identity, claim in claims.items():
        by_why.setdefault(claim.why, (claim, []))[1].append(identity)
    return "; ".join("%s: %s%s" % (", ".join(sorted(identities)), claim.why, (
        " (coexistence=take stops and disables %s in the same transaction; its rollback starts it again)"
        % claim.who) if claim.takeable else "") for _why, (claim, identities) in sorted(by_why.items()))
