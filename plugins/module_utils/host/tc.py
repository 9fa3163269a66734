# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Interfaces' root qdiscs as net.core.default_qdisc makes them, read and re-made through tc.

The kernel attaches net.core.default_qdisc to an interface when the interface
comes up (under mq, one per transmit queue, on a multi-queue NIC), with
handle 0:. Setting the sysctl later changes no interface that is already up,
so a host tuned live would run fq_codel where the same host after a boot runs
fq. Re-attaching makes the live state the boot state: a root that is still
the kernel's own (every egress qdisc with handle 0:) is replaced by a plain
qdisc and that one deleted, and the kernel attaches its default again. A root
someone configured (any other handle: netem, a shaper, systemd-networkd's
[QDisc]) is theirs and never touched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.hostperf.tuning.plugins.module_utils.host.names import interface

# What a root reads as when the kernel's default does not apply: a link that is down (noop, until it comes up
# with the default of that moment), a device without a queue (noqueue: loopback, veth, bridges).
NOOP, NOQUEUE = "noop", "noqueue"
CONFIGURED = "configured"
UNKNOWN = None
DEFAULT_SYSCTL = "/proc/sys/net/core/default_qdisc"
_QDISC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,15}\Z")
_KERNEL_HANDLE = "0:"
_INTERIM = "pfifo_fast"  # always built in; exists only between the replace and the delete
_NOT_EGRESS = ("ingress", "clsact")


class TcError(OSError):
    """tc is missing or answered something that is not its JSON."""


def qdisc_name(value):
    """value when it can name a qdisc (the kernel's own spelling), else ValueError."""
    if not isinstance(value, str) or not _QDISC_NAME.match(value):
        raise ValueError("%r is not a qdisc name" % (value,))
    return value


def roots(tree):
    """{interface: what its root reads as} for every interface of this network namespace.

    A kernel-attached root reads as the qdisc its queues run (fq_codel, also for mq over fq_codel queues; mq
    over queues that differ reads 'mq:fq,fq_codel'); noop and noqueue as themselves; a root someone configured
    as 'configured: KIND HANDLE'. TcError when tc cannot answer.
    """
    result = tree.run(["tc", "-j", "qdisc", "show"])
    if result.missing:
        raise TcError("tc (iproute2) is not installed")
    if not result.ok:
        raise TcError("tc qdisc show: %s" % ((result.stderr or result.stdout).strip() or "rc %d" % result.rc))
    try:
        entries = json.loads(result.stdout or "[]")
    except ValueError:
        raise TcError("tc qdisc show: not JSON: %r" % (result.stdout or "")[:80])
    by_device = {}
    if not isinstance(entries, list):
        raise TcError("tc qdisc show: not a list of qdiscs")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("dev"), str):
            raise TcError("tc qdisc show: an entry without its device: %r" % (entry,))
        if entry.get("kind") not in _NOT_EGRESS:
            by_device.setdefault(entry["dev"], []).append(entry)
    return dict((device, summary(qdiscs)) for device, qdiscs in by_device.items())


def summary(qdiscs):
    """What one interface's egress qdiscs (tc's JSON entries) read as; see roots."""
    root = [entry for entry in qdiscs if entry.get("root")]
    if len(root) != 1:
        return UNKNOWN
    kind, handle = root[0].get("kind"), root[0].get("handle")
    if kind in (NOOP, NOQUEUE) and len(qdiscs) == 1:
        return kind
    if any(entry.get("handle") != _KERNEL_HANDLE for entry in qdiscs):
        mine = [entry for entry in qdiscs if entry.get("handle") != _KERNEL_HANDLE][0]
        return "%s: %s %s" % (CONFIGURED, mine.get("kind"), mine.get("handle"))
    if kind != "mq":
        return kind if len(qdiscs) == 1 else UNKNOWN
    leaves = [entry.get("kind") for entry in qdiscs if not entry.get("root")]
    if not leaves:
        return UNKNOWN
    return leaves[0] if len(set(leaves)) == 1 else "mq:" + ",".join(leaves)


def attached_by_kernel(state):
    """Whether a root that reads as state is the kernel's default attachment, which re-attaching may redo."""
    return state is not UNKNOWN and state not in (NOOP, NOQUEUE) and not state.startswith(CONFIGURED)


def reattach(tree, device, qdisc):
    """Make device's root the kernel's attachment of qdisc; OSError with tc's answer when refused.

    The kernel attaches whatever net.core.default_qdisc names at that moment, so a qdisc other than the
    current default (a rollback to a root that predates the default) is attached under a default set for the
    instant and put back.
    """
    interface(device)
    qdisc_name(qdisc)
    default = (tree.read(DEFAULT_SYSCTL) or "").strip()
    if default != qdisc:
        tree.write(DEFAULT_SYSCTL, qdisc)
    try:
        # The kernel refuses to delete a root with handle 0: ("Cannot delete qdisc with handle of zero").
        tree.run_checked(["tc", "qdisc", "replace", "dev", device, "root", _INTERIM])
        tree.run_checked(["tc", "qdisc", "del", "dev", device, "root"])
    finally:
        if default and default != qdisc:
            tree.write(DEFAULT_SYSCTL, default)
