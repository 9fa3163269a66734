# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sysctl keys under /proc/sys, persisted to one file in /etc/sysctl.d."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.hostperf.tuning.plugins.module_utils.host import tc
from ansible_collections.hostperf.tuning.plugins.module_utils.host.names import InvalidName, sysctl_key, sysctl_path
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import HEADER, Knob, KnobError, Persistence, SWITCH_CHEAP, SWITCH_COSTLY
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import Grammar
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.qdisc import reattach_requests
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.scope import sysctl_scope

SYSCTL_FILE = "/etc/sysctl.d/90-hostperf-tuning.conf"
_INTEGER = re.compile(r"^-?[0-9]+\Z")
INT_MAX = 2 ** 31 - 1
UINT_MAX = 2 ** 32 - 1
LONG_MAX = 2 ** 63 - 1
# Ranges the kernel enforces (proc_dointvec_minmax) or whose type is narrower
# than a long, for keys profiles set; other integers are checked against the
# widest type the kernel has.
LIMITS = {
    "vm.swappiness": (0, 200),
    "vm.dirty_ratio": (0, 100),
    "vm.dirty_background_ratio": (0, 100),
    "vm.overcommit_memory": (0, 2),
    "vm.zone_reclaim_mode": (0, 15),
    "net.core.somaxconn": (0, INT_MAX),
    "net.core.netdev_max_backlog": (0, INT_MAX),
    "net.core.netdev_budget": (0, INT_MAX),
    "net.core.rmem_max": (0, INT_MAX),
    "net.core.wmem_max": (0, INT_MAX),
    "net.core.rmem_default": (0, INT_MAX),
    "net.core.wmem_default": (0, INT_MAX),
    "net.core.optmem_max": (0, INT_MAX),
    "net.ipv4.tcp_rmem": (1, INT_MAX),
    "net.ipv4.tcp_wmem": (1, INT_MAX),
    "net.ipv4.tcp_max_syn_backlog": (0, INT_MAX),
    "net.ipv4.tcp_notsent_lowat": (0, UINT_MAX),
    "net.ipv4.tcp_mtu_probing": (0, 2),
    "net.ipv4.tcp_slow_start_after_idle": (0, 1),
    "net.ipv4.tcp_fastopen": (0, INT_MAX),
    "net.ipv4.tcp_ecn": (0, 2),
    "net.ipv4.ip_local_port_range": (1, 65535),
    "kernel.numa_balancing": (0, 3),
}
# Keys the kernel holds in a long or unsigned long (proc_doulongvec_minmax and friends). Every other integer key is
# checked as the int most sysctls are (proc_dointvec): 2**40 for an int key is refused here, not by the kernel.
LONG_KEYS = frozenset((
    "vm.dirty_bytes", "vm.dirty_background_bytes", "vm.overcommit_kbytes", "vm.admin_reserve_kbytes",
    "vm.user_reserve_kbytes", "vm.mmap_min_addr", "vm.nr_hugepages", "vm.nr_hugepages_mempolicy",
    "vm.nr_overcommit_hugepages", "kernel.shmmax", "kernel.shmall", "kernel.hung_task_timeout_secs",
    "kernel.hung_task_check_count", "kernel.threads-max", "fs.file-max", "fs.aio-max-nr", "net.ipv4.tcp_mem",
    "net.ipv4.udp_mem", "net.sctp.sctp_mem", "net.core.bpf_jit_limit",
))
UINT_KEYS = frozenset(("fs.pipe-max-size", "kernel.core_pipe_limit", "fs.nr_open"))


def normalise(value):
    """A sysctl value as the kernel prints it, whitespace-insensitive ('4096 87380 6291456')."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, (list, tuple)):
        value = " ".join(str(item) for item in value)
    return " ".join(str(value).split())


RESERVATIONS = ("vm.nr_hugepages", "vm.nr_overcommit_hugepages", "vm.nr_hugepages_mempolicy", "vm.min_free_kbytes")


class SysctlKnob(Knob):
    switching = SWITCH_CHEAP
    kind = "sysctl"
    grammar = Grammar("sysctl", ("key*",), ("sysctl:vm.swappiness", "sysctl:net.ipv4.tcp_rmem"))

    def __init__(self, tree, name):
        try:
            key = sysctl_key(name)
        except InvalidName as exc:
            raise KnobError(str(exc))
        Knob.__init__(self, tree, key)
        self.path = sysctl_path(key)
        self.scope = sysctl_scope(key)

    @classmethod
    def create(cls, tree, name):
        knob = cls(tree, name)
        return DefaultQdiscKnob(tree, name) if knob.name == DefaultQdiscKnob.key else knob

    def switch_cost(self):
        # Reserving huge pages takes memory a fragmented host may not give back: not switched between trials.
        return SWITCH_COSTLY if self.name in RESERVATIONS else self.switching

    def validate(self, value):
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (int, str)):
                raise KnobError("sysctl %s: %r is not a number or a string (a list of them for a key of several "
                                "fields)%s" % (self.name, item, "; YAML reads yes/no/true/false as booleans: write 1 "
                                               "or 0" if isinstance(item, bool) else ""))
            if "\n" in str(item) or "\0" in str(item):
                raise KnobError("sysctl %s: value contains a newline or NUL" % self.name)
        desired = normalise(value)
        real = self.tree.path(self.path)
        if not os.path.isfile(real):
            if os.path.isdir(real):
                raise KnobError("sysctl %s: is a directory of keys, not a key" % self.name)
            raise KnobError("sysctl %s: unknown key (no %s on this kernel)" % (self.name, self.path))
        mode = os.stat(real).st_mode
        if not mode & 0o222:
            raise KnobError("sysctl %s: read-only key" % self.name)
        if not mode & 0o444:
            raise KnobError("sysctl %s: write-only key (an action such as a flush, not a setting): it cannot be "
                            "read back, verified or restored" % self.name)
        if not desired:
            raise KnobError("sysctl %s: empty value" % self.name)
        current = self.read().split()
        fields = desired.split()
        if current and all(_INTEGER.match(field) for field in current):
            if len(fields) != len(current):
                raise KnobError("sysctl %s: %r has %d field(s); the kernel's value has %d (%s)"
                                % (self.name, desired, len(fields), len(current), " ".join(current)))
            low, high = integer_range(self.name)
            for field in fields:
                if not _INTEGER.match(field):
                    raise KnobError("sysctl %s: %r is not an integer" % (self.name, field))
                if not low <= int(field) <= high:
                    raise KnobError("sysctl %s: %s is out of the kernel's range %d..%d" % (self.name, field, low, high))
        return desired

    def read(self):
        value = self.tree.read(self.path)
        return normalise(value) if value is not None else ""

    def write(self, value):
        self.tree.write(self.path, value)


class DefaultQdiscKnob(SysctlKnob):
    """net.core.default_qdisc, and the interfaces already up re-attached to it, as a boot would have them."""

    key = "net.core.default_qdisc"

    def validate(self, value):
        value = SysctlKnob.validate(self, value)
        try:
            tc.qdisc_name(value)
            tc.roots(self.tree)
        except ValueError as exc:
            raise KnobError("sysctl %s: %s" % (self.name, exc))
        except OSError as exc:
            raise KnobError("sysctl %s: %s; it is needed to put the interfaces that are up on %s now, as a boot "
                            "would (the kernel attaches the default only to a link coming up)" % (self.name, exc, value))
        return value

    def requires(self, value):
        return reattach_requests(self.tree, value)


def integer_range(key):
    """The values the kernel's type for key can hold: its known limits, else a long's or an int's."""
    if key in LIMITS:
        return LIMITS[key]
    if key in LONG_KEYS:
        return -LONG_MAX - 1, 2 ** 64 - 1
    if key in UINT_KEYS:
        return 0, UINT_MAX
    return -INT_MAX - 1, INT_MAX


def render_sysctl(entries):
    if not entries:
        return None
    lines = [HEADER.rstrip("\n")]
    lines.extend("%s = %s" % (knob.name, value) for knob, value, dummy in entries)
    return "\n".join(lines) + "\n"


SysctlKnob.persistence = Persistence(SYSCTL_FILE, render_sysctl)
