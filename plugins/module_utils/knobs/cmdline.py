# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A kernel command-line parameter ("cmdline:isolcpus", "cmdline:intel_idle.max_cstate"), written through the
host's boot loader configuration and in effect from the next boot; and a boot-once trial of new parameters
("cmdline_trial:grub"), which GRUB passes to one boot only.

Its value is the one the boot loader will pass: what /boot/grub/grub.cfg carries after update-grub, so a
change is verified where it is made and the running kernel's own (/proc/cmdline) is the next boot's business
(awaits_boot). Our parameters go to the normal entries only: the recovery entries boot without them, a way
back from a parameter that stops a boot. A key the host's own configuration already passes is refused, not
doubled: the kernel takes some parameters once, some cumulatively, some the last one given.

A trial is the whole of our parameters for one boot, in GRUB's environment block: the grub.cfg our script
generates replaces the default's parameters with it and unsets it (save_env) before the kernel starts, so a
host that hangs on them boots its default at the next power cycle. Made the default only by a later tune of the
cmdline settings themselves (after the host came back and passed the gate), which ends the trial.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.host.bootloader import (
    GRUB, GRUB_CFG, GRUB_VARIABLE, GRUBENV, TRIAL_VARIABLE, GrubConfig, boot_loader, grub_environment, last_value,
    parameter_name, parse_cmdline, running_cmdline, stale_reason, trial_refusal)
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import HEADER, Knob, KnobError, Persistence
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import Grammar

GRUB_DROPIN = "/etc/default/grub.d/zz-hostperf-tuning.cfg"  # sourced last: a later drop-in would reset ours
GRUB_SCRIPT = "/etc/grub.d/01_hostperf-tuning"  # after 00_header, which loads the GRUB environment
ENVIRONMENT_VARIABLE = "HOSTPERF_TUNING_CMDLINE"
ABSENT = "absent"  # not a parameter of ours
FLAG = "(flag)"  # a parameter without a value (nosmt); YAML true
MAX_COMMAND_LINE = 2047  # x86's COMMAND_LINE_SIZE less its NUL
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
# What the sh drop-in, the GRUB script and the kernel all take unquoted: no quotes, spaces, $ or ; anywhere.
_VALUE = re.compile(r"^[A-Za-z0-9_.,:/+=@%-]{1,255}\Z")
# How the host finds its root and what it boots into: never ours to change.
BOOT_CRITICAL = frozenset((
    "root", "rootfstype", "rootflags", "rootdelay", "rootwait", "ro", "rw", "init", "rdinit", "initrd",
    "BOOT_IMAGE", "resume", "resume_offset", "noresume", "single", "emergency", "rescue", "systemd.unit",
    "rd.break", "break", "console", "crashkernel"))


TRIAL = "cmdline_trial:" + GRUB


def grub_parameter(key, value):
    """key or key=value as the drop-in and grub.cfg carry it; ValueError for anything that would need quoting."""
    if not _KEY.match(key) or (value != FLAG and not _VALUE.match(value)):
        raise ValueError("cmdline:%s: %r cannot be written to the boot configuration unquoted (letters, digits "
                         "and _ . , : / + = @ %% - only)" % (key, value))
    return key if value == FLAG else "%s=%s" % (key, value)


def check_command_line(tree, config, label, ours):
    """KnobError, naming label, unless the whole command line with our parameters (ours) fits the kernel and
    grub.cfg is what update-grub makes of the configuration now (it runs, and would apply any pending edit)."""
    others = " ".join(key if val is None else "%s=%s" % (key, val) for key, val in config.others)
    length = len(others) + len(ours) + 1
    if length > MAX_COMMAND_LINE:
        raise KnobError("%s: the command line would be %d characters, more than the kernel takes (%d)"
                        % (label, length, MAX_COMMAND_LINE))
    stale = stale_reason(tree)
    if stale:
        raise KnobError("%s: %s" % (label, stale))


class CmdlineKnob(Knob):
    kind = "cmdline"
    grammar = Grammar("cmdline", ("key",), ("cmdline:isolcpus", "cmdline:intel_idle.max_cstate"))
    order = 90  # its files and their update-grub come with the other files; write only checks the result
    borne_by_files = True

    def __init__(self, tree, name):
        key = self.fields_of(name)["key"]
        if not _KEY.match(key):
            raise KnobError("cmdline %r: not a kernel parameter name (letters, digits, _ . -)" % (name,))
        Knob.__init__(self, tree, parameter_name(key))

    def validate(self, value):
        if self.name in BOOT_CRITICAL:
            raise KnobError("%s: decides how the host finds its root or what it boots into; this collection tunes "
                            "performance and never changes it" % self.identity)
        if value is True:
            value = FLAG
        elif isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
            raise KnobError("%s: %r is not a value: a text (cmdline:isolcpus: 2-3), true for a parameter without "
                            "a value (cmdline:nosmt: true), or absent" % (self.identity, value))
        value = str(value).strip()
        if value != ABSENT:
            try:
                grub_parameter(self.name, value)
            except ValueError as exc:
                raise KnobError(str(exc))
        loader, why = boot_loader(self.tree)
        if loader is None:
            raise KnobError("%s: %s" % (self.identity, why))
        config = self._config()
        present, theirs = last_value(config.others, self.name)
        if present:
            raise KnobError("%s: the host's own boot configuration already passes %s (in /etc/default/grub or a "
                            "drop-in): the kernel would get it twice; remove it there to let this collection "
                            "manage it" % (self.identity, self.name if theirs is None else self.name + "=" + theirs))
        return value

    def validate_with(self, value, request):
        ours = sorted(identity for identity in request if identity.startswith(self.kind + ":"))
        if ours[0] != self.identity:
            return  # the checks of the whole command line run once
        words = [grub_parameter(identity.split(":", 1)[1], request[identity]) for identity in ours
                 if request[identity] != ABSENT]
        check_command_line(self.tree, self._config(), ", ".join(ours), " ".join(words))

    def _config(self):
        config = GrubConfig.read(self.tree)
        if config is None:
            raise KnobError("%s: cannot read %s" % (self.identity, GRUB_CFG))
        return config

    def read(self):
        present, value = last_value(self._config().ours, self.name)
        return (FLAG if value is None else value) if present else ABSENT

    def write(self, value):
        now = self.read()
        if now != value:
            raise OSError("update-grub left %s with %s, not %s (see the hooks' errors)" % (GRUB_CFG, now, value))

    def running(self):
        """The value the running kernel got, ABSENT when it has none."""
        present, value = last_value(parse_cmdline(running_cmdline(self.tree)), self.name)
        return (FLAG if value is None else value) if present else ABSENT

    def awaits_boot(self, value, previous=None):
        now = self.running()
        if now == value:
            return None
        return "%s is %s from the next boot; the running kernel has %s" % (self.identity, value, now)

    def disruption(self):
        return "takes effect at the next boot"


class CmdlinePersistence(Persistence):
    """The GRUB drop-in that holds our parameters and the grub.d script that sets them in grub.cfg."""

    FILES = (GRUB_DROPIN, GRUB_SCRIPT)
    boot_unsafe = ("/boot may not be mounted this early; the boot configuration is regenerated by `rollback "
                   "interrupted`")

    def __init__(self):
        Persistence.__init__(self, None, None, after_change=(["update-grub"],))

    def owns(self, path):
        return path in self.FILES

    def mode(self, path):
        return 0o755 if path == GRUB_SCRIPT else 0o644

    def render_files(self, entries):
        words = [grub_parameter(knob.name, value) for knob, value, dummy in entries
                 if knob.kind == CmdlineKnob.kind and value != ABSENT]
        trial = any(knob.kind == CmdlineTrialKnob.kind and value != ABSENT for knob, value, dummy in entries)
        if not words and not trial:
            return dict((path, None) for path in self.FILES)
        dropin = (HEADER + "# The kernel parameters this collection adds to the normal boot entries (the recovery "
                  "entries boot without them);\n# %s sets them in grub.cfg, where every normal entry's linux line "
                  "expands them.\nexport %s='%s'\nGRUB_CMDLINE_LINUX_DEFAULT=\"${GRUB_CMDLINE_LINUX_DEFAULT} "
                  "\\${%s}\"\n" % (GRUB_SCRIPT, ENVIRONMENT_VARIABLE, " ".join(words), GRUB_VARIABLE))
        script = ("#!/bin/sh\n" + HEADER + "# Sets the parameters of %s for grub.cfg's normal entries.\n"
                  "printf \"set %s='%%s'\\n\" \"${%s}\"\n" % (GRUB_DROPIN, GRUB_VARIABLE, ENVIRONMENT_VARIABLE))
        if trial:
            script += ("# A boot-once trial (%s in GRUB's environment block) replaces them for one boot: GRUB unsets "
                       "it before the kernel starts.\ncat <<'EOF'\nif [ -n \"${%s}\" ]; then\n  set %s=\"${%s}\"\n"
                       "  set %s=\n  save_env %s\nfi\nEOF\n"
                       % ((TRIAL_VARIABLE, TRIAL_VARIABLE, GRUB_VARIABLE) + (TRIAL_VARIABLE,) * 3))
        return {GRUB_DROPIN: dropin, GRUB_SCRIPT: script}


class CmdlineTrialKnob(Knob):
    """Our whole parameter list for the next boot only ("cmdline_trial:grub"), or absent: no trial armed.

    Set through tune's boot_trial, which computes it from the default's parameters and the request's."""

    kind = "cmdline_trial"
    grammar = Grammar("cmdline_trial", ("loader",), (TRIAL,))
    order = 95  # armed last: a run killed before it leaves the next boot on the default

    def __init__(self, tree, name):
        if self.fields_of(name)["loader"] != GRUB:
            raise KnobError("cmdline_trial %r: the only boot loader with a trial is grub" % (name,))
        Knob.__init__(self, tree, GRUB)

    def validate(self, value):
        value = " ".join(str(value).split())
        if value == ABSENT:
            return value
        words = parse_cmdline(value)
        try:
            for key, given in words:
                grub_parameter(key, FLAG if given is None else given)
        except ValueError as exc:
            raise KnobError("%s: %s" % (self.identity, exc))
        critical = sorted(set(parameter_name(key) for key, dummy in words) & BOOT_CRITICAL)
        if not words or critical:
            raise KnobError("%s: %r is not a trial of performance parameters (%s)" % (
                self.identity, value, "names " + ", ".join(critical) if critical else "empty"))
        loader, why = boot_loader(self.tree)
        refusal = why or trial_refusal(self.tree)
        if refusal:
            raise KnobError("%s: no boot-once trial on this host: %s" % (self.identity, refusal))
        config = GrubConfig.read(self.tree)
        theirs = sorted(set(parameter_name(key) for key, dummy in words)
                        & set(parameter_name(key) for key, dummy in config.others))
        if theirs:
            raise KnobError("%s: the host's own boot configuration already passes %s: the kernel would get it "
                            "twice" % (self.identity, ", ".join(theirs)))
        check_command_line(self.tree, config, self.identity, value)  # arming it regenerates grub.cfg too
        return value

    def read(self):
        return grub_environment(self.tree).get(TRIAL_VARIABLE) or ABSENT

    def write(self, value):
        argv = (["grub-editenv", GRUBENV, "unset", TRIAL_VARIABLE] if value == ABSENT else
                ["grub-editenv", GRUBENV, "set", "%s=%s" % (TRIAL_VARIABLE, value)])
        result = self.tree.run(argv)
        if not result.ok:
            raise OSError("grub-editenv: %s" % ((result.stderr or "").strip() or "rc %d" % result.rc))

    def booted(self, value):
        """Whether the running kernel got every parameter of this trial."""
        running = parse_cmdline(running_cmdline(self.tree))
        return all(last_value(running, parameter_name(key)) == (True, given) for key, given in parse_cmdline(value))

    def spent_by_boot(self, value):
        """GRUB unsets a trial as it boots it: after a boot, absent is what a trial it passed holds. (spent,
        why): spent when this boot got it, else why not."""
        if self.booted(value):
            return True, "GRUB passed it to this boot and unset it"
        return False, ("the boot since did not get it: the host booted its default command line (a power cycle "
                       "after the trial boot, or GRUB did not run the trial)")

    def awaits_boot(self, value, previous=None):
        if value != ABSENT:
            return "the next boot only passes %s (a boot-once trial)" % value
        if previous in (None, ABSENT) or not self.booted(previous):
            return None
        default = sorted((parameter_name(key), given) for key, given in GrubConfig.read(self.tree).ours)
        if default == sorted((parameter_name(key), given) for key, given in parse_cmdline(previous)):
            return None  # the default passes them now
        return "the running kernel has the trial's parameters (%s) until the next boot" % previous

    def disruption(self):
        return "takes effect at the next boot only"


def boot_trial_request(tree, desired):
    """desired with its cmdline settings moved into a boot-once trial of the parameters they make: the default's
    with theirs applied, in the order the default would carry them."""
    ours = sorted(identity for identity in desired if identity.partition(":")[0] == CmdlineKnob.kind)
    if not ours:
        return dict(desired)
    wanted = []
    for identity in ours:  # each checked first: a host without GRUB is refused by the setting's name, as without
        knob = CmdlineKnob(tree, identity.split(":", 1)[1])
        wanted.append((knob, knob.validate(desired[identity])))
    params = dict((parameter_name(key), FLAG if value is None else value) for key, value in GrubConfig.read(tree).ours)
    default = dict(params)
    for knob, value in wanted:
        if value == ABSENT:
            params.pop(knob.name, None)
        else:
            params[knob.name] = value
    request = dict((identity, value) for identity, value in desired.items() if identity not in ours)
    if params == default:
        return request  # the default boots them already
    if not params:
        raise KnobError("%s: a trial of no parameters at all cannot be armed (GRUB's empty variable means no "
                        "trial); remove them from the default instead (boot_trial: false)" % ", ".join(ours))
    request[TRIAL] = " ".join(grub_parameter(key, params[key]) for key in sorted(params))
    return request


CmdlineKnob.persistence = CmdlineTrialKnob.persistence = CmdlinePersistence()
