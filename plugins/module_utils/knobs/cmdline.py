# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A kernel command-line parameter ("cmdline:isolcpus", "cmdline:intel_idle.max_cstate"), written through the
host's boot loader configuration and in effect from the next boot.

Its value is the one the boot loader will pass: what /boot/grub/grub.cfg carries after update-grub, so a
change is verified where it is made and the running kernel's own (/proc/cmdline) is the next boot's business
(awaits_boot). Our parameters go to the normal entries only: the recovery entries boot without them, a way
back from a parameter that stops a boot. A key the host's own configuration already passes is refused, not
doubled: the kernel takes some parameters once, some cumulatively, some the last one given.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.host.bootloader import (
    GRUB_CFG, GRUB_VARIABLE, GrubConfig, boot_loader, last_value, parameter_name, parse_cmdline, running_cmdline,
    stale_reason)
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


def grub_parameter(key, value):
    """key or key=value as the drop-in and grub.cfg carry it; ValueError for anything that would need quoting."""
    if not _KEY.match(key) or (value != FLAG and not _VALUE.match(value)):
        raise ValueError("cmdline:%s: %r cannot be written to the boot configuration unquoted (letters, digits "
                         "and _ . , : / + = @ %% - only)" % (key, value))
    return key if value == FLAG else "%s=%s" % (key, value)


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
        others = " ".join(key if val is None else "%s=%s" % (key, val) for key, val in self._config().others)
        length = len(others) + len(" ".join(words)) + 1
        if length > MAX_COMMAND_LINE:
            raise KnobError("%s: the command line would be %d characters, more than the kernel takes (%d)"
                            % (", ".join(ours), length, MAX_COMMAND_LINE))
        stale = stale_reason(self.tree)
        if stale:
            raise KnobError("%s: %s" % (", ".join(ours), stale))

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

    def awaits_boot(self, value):
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
        words = [grub_parameter(knob.name, value) for knob, value, dummy in entries if value != ABSENT]
        if not words:
            return dict((path, None) for path in self.FILES)
        dropin = (HEADER + "# The kernel parameters this collection adds to the normal boot entries (the recovery "
                  "entries boot without them);\n# %s sets them in grub.cfg, where every normal entry's linux line "
                  "expands them.\nexport %s='%s'\nGRUB_CMDLINE_LINUX_DEFAULT=\"${GRUB_CMDLINE_LINUX_DEFAULT} "
                  "\\${%s}\"\n" % (GRUB_SCRIPT, ENVIRONMENT_VARIABLE, " ".join(words), GRUB_VARIABLE))
        script = ("#!/bin/sh\n" + HEADER + "# Sets the parameters of %s for grub.cfg's normal entries.\n"
                  "printf \"set %s='%%s'\\n\" \"${%s}\"\n" % (GRUB_DROPIN, GRUB_VARIABLE, ENVIRONMENT_VARIABLE))
        return {GRUB_DROPIN: dropin, GRUB_SCRIPT: script}


CmdlineKnob.persistence = CmdlinePersistence()
