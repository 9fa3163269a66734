# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who else sets what we would set, so a tune is not undone behind the gate's back at the next boot or restart.

- a sysctl.d file a boot applies after ours: the administrator's word, never
  taken; the setting is left out (planner) or refused (tune), naming the line;
- tuned, running (or enabled, for what a boot would undo): its profile's
  plugins set disks, the CPU clock, THP, NICs and IRQs when it starts, after
  udev applied ours, and through its [vm] and [scheduler] plugins
  vm.dirty_* and kernel.sched_*, which its reapply_sysctl (the default) does
  not re-apply; its [sysctl] values too, unless reapply_sysctl re-applies
  sysctl.d after them and ours are persisted there; and that re-apply reads
  /etc/sysctl.conf last of all;
- bpftune, running or enabled: it auto-tunes net.* sysctls, and steps back
  from a key only when it sees it written while it runs, not from the value a
  boot set before it started;
- a NetworkManager connection profile that sets the same ring, channel,
  coalescing, offload or MTU value: NetworkManager writes it on every
  activation of the link, after udev applied ours; the administrator's file,
  never taken.
A daemon's claims can be taken (coexistence=take): the daemon is stopped and
disabled by settings of the same transaction, which its rollback starts again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.environment import detect_environment
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.sysctl_files import overriding, set_after, sysctl_conf
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import canonical
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.sysctl import SYSCTL_FILE, normalise

COEXISTENCE_MODES = ("refuse", "take")
_TUNED_KINDS = ("block", "cpufreq", "thp", "nic", "irq")
# What tuned's [vm] and [scheduler] plugins write to /proc/sys, which its reapply_sysctl does not re-apply.
_TUNED_PLUGIN_SYSCTLS = ("vm.dirty_*", "kernel.sched_*", "kernel.numa_balancing")


def host_claim_facts(tree):
    """The facts Coexistence reads, detected on the host itself (tune, drift_info) rather than sent with the plan."""
    return {"environment": detect_environment(tree, False),
            "kernel": {"sysctl_set_after_ours": set_after(tree, SYSCTL_FILE), "sysctl_conf": sysctl_conf(tree)}}


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
    """The claims on a host's settings, from its facts (environment, kernel.sysctl_set_after_ours and
    kernel.sysctl_conf).

    released: settings the request holds besides; a daemon it already stops and disables claims nothing.
    booted: whether a boot is to be reckoned with; without, a daemon only enabled claims nothing (drift_info asks so
    about a change made since the last boot).
    """

    def __init__(self, facts, persist=True, mode="refuse", released=None, booted=True):
        self.environment = facts.get("environment") or {}
        kernel = facts.get("kernel") or {}
        self.after = kernel.get("sysctl_set_after_ours") or {}
        self.sysctl_conf = kernel.get("sysctl_conf") or {}
        self.persist, self.take = persist, mode == "take"
        # a unit enabled where systemd is not init (a container image, a sandbox) never starts, and one that only
        # starts at the next boot undoes nothing of a run that persists nothing
        self.boots = self.environment.get("init") == "systemd" and persist and booted
        tuned = self.environment.get("tuned") or {}
        self.tuned = self._daemon("tuned", tuned, "tuned (%s, profile %s) sets these when it starts" % (
            "running" if tuned.get("running") else "enabled", tuned.get("profile")), released)
        self.bpftune = self._daemon("bpftune", self.environment.get("bpftune") or {},
                                    "bpftune (%s) auto-tunes net.* sysctls, those a boot set included" % (
                                        "running" if (self.environment.get("bpftune") or {}).get("running")
                                        else "enabled"), released)
        self.connections = self._connections()

    def _daemon(self, name, state, why, released):
        running, enabled = bool(state.get("running")), bool(state.get("enabled") and self.boots)
        if not (running or enabled):
            return None
        claim = Claim(name, why, name + ".service", running, enabled)
        if all((released or {}).get(identity) == value for identity, value in claim.release().items()):
            return None  # the request stops and disables it itself
        return claim

    def _connections(self):
        """{canonical nic identity: Claim} of the NetworkManager profiles that set it."""
        manager = self.environment.get("network_manager") or {}
        if not isinstance(manager, dict) or not (manager.get("running") or manager.get("enabled") and self.boots):
            return {}
        claims = {}
        for interface, profiles in sorted((manager.get("connections") or {}).items()):
            for profile in profiles:
                for setting, value in sorted(profile["settings"].items()):
                    try:
                        identity = canonical("nic:%s:%s" % (interface, setting))
                    except KnobError:
                        continue  # a setting of NetworkManager's we have no knob for
                    claims.setdefault(identity, Claim(profile["file"], "NetworkManager's connection %s sets %s %s "
                                                      "on every activation of the link; change it there" % (
                                                          profile["file"], setting, value)))
        return claims

    def claims(self, identity, value=None):
        """[Claim] on identity set to value (a file line that sets the same value claims nothing)."""
        found = [self.connections[identity]] if identity in self.connections else []
        kind, _sep, name = identity.partition(":")
        if kind == "sysctl":
            found.extend(self._sysctl_claims(name, value))
        elif self.tuned and kind in _TUNED_KINDS:
            found.append(self.tuned)
        return found

    def _sysctl_claims(self, key, value):
        found = []
        wanted = None if value is None else normalise(value)
        line = overriding(self.after, key) if self.persist else None
        if line and line["value"] != wanted:
            found.append(Claim(line["file"], "%s line %d sets %s = %s after ours at boot; change it there"
                               % (line["file"], line["line"], key, line["value"])))
        if self.tuned:
            tuned = self.environment.get("tuned") or {}
            reapplied = self.persist and tuned.get("reapply_sysctl", True) and not any(
                fnmatch.fnmatchcase(key, pattern) for pattern in
                tuple(tuned.get("reapply_sysctl_exclude") or ()) + _TUNED_PLUGIN_SYSCTLS)
            conf = self.sysctl_conf.get(key) if self.persist and tuned.get("reapply_sysctl", True) else None
            if not reapplied:
                found.append(self.tuned)
            elif conf and conf["value"] != wanted and not line:
                found.append(Claim("/etc/sysctl.conf", "/etc/sysctl.conf line %d sets %s = %s, and tuned's "
                                   "reapply_sysctl reads it after the sysctl.d files, ours included, whenever it "
                                   "starts; change it there" % (conf["line"], key, conf["value"])))
        if self.bpftune and key.startswith("net."):
            found.append(self.bpftune)
        return found

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
