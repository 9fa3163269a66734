# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whose a setting is: the whole machine's, a namespace's, or the tuned system's own processes'.

A container shares its host's kernel. A vm.* sysctl, a block queue, an IRQ,
a loaded module or the CPU clock set from inside one tunes the host under
every container on it, and the container's rollback would undo what the
host's operator set. What the kernel keeps per namespace is the
container's when it has that namespace of its own: the net.* keys a
non-initial network namespace registers and its interfaces, the IPC limits,
the host name. Its own units are always its own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MACHINE = "machine"
NET, IPC, UTS, USER = "net", "ipc", "uts", "user"
OWN = "own"
NAMESPACES = (NET, IPC, UTS, USER)
# Namespace facts: the namespace is the initial one (the machine's), or one of the container's own.
INITIAL, PRIVATE = "initial", "own"

# Non-net sysctls the kernel keeps per namespace (ipc/ipc_sysctl.c, ipc/mq_sysctl.c, kernel/utsname_sysctl.c,
# kernel/ucount.c). A net.* key is the network namespace's when a non-initial namespace registers it (the only
# way it can be read there at all), but for the conntrack limits, registered read-only there and global.
_SYSCTL_NAMESPACES = (
    (IPC, ("kernel.shmmax", "kernel.shmall", "kernel.shmmni", "kernel.shm_rmid_forced", "kernel.msgmax",
           "kernel.msgmni", "kernel.msgmnb", "kernel.auto_msgmni", "kernel.sem", "kernel.sem_next_id",
           "kernel.msg_next_id", "kernel.shm_next_id")),
    (UTS, ("kernel.hostname", "kernel.domainname")),
)
_SYSCTL_PREFIXES = (("net.", NET), ("fs.mqueue.", IPC), ("user.", USER))
# Registered in every network namespace but global, read-only outside the initial one (nf_conntrack_standalone.c).
_GLOBAL_NET_KEYS = ("net.netfilter.nf_conntrack_max", "net.netfilter.nf_conntrack_buckets",
                    "net.netfilter.nf_conntrack_expect_max", "net.nf_conntrack_max")


def sysctl_scope(key):
    """The scope of a sysctl key in its dotted spelling."""
    if key in _GLOBAL_NET_KEYS:
        return MACHINE
    for prefix, scope in _SYSCTL_PREFIXES:
        if key.startswith(prefix):
            return scope
    for scope, keys in _SYSCTL_NAMESPACES:
        if key in keys:
            return scope
    return MACHINE


class Ownership:
    """Which settings the tuned system may take: all of them on a host; inside a container, its own only.

    environment is host_facts' environment (container, namespaces); a container that
    takes the machine's settings too says so with owns_machine.
    """

    def __init__(self, environment, owns_machine=False):
        environment = environment or {}
        self.container = environment.get("container")
        self.namespaces = environment.get("namespaces") or {}
        self.owns_machine = bool(owns_machine)

    def owns(self, scope):
        if not self.container or self.owns_machine or scope == OWN:
            return True
        return scope in NAMESPACES and self.namespaces.get(scope) == PRIVATE

    def refusal(self, identities):
        """Why identities (settings it does not own) are left alone, for a note or an error."""
        return ("%s: the whole machine's, not this %s container's (it shares the host's kernel%s); tune them on "
                "the host, or take them from here with container_owns_machine (hostperf_container_owns_machine)"
                % (", ".join(sorted(identities)), self.container, self._shared()))

    def _shared(self):
        shared = [scope for scope in NAMESPACES if self.namespaces.get(scope) != PRIVATE]
        return " and its %s namespace%s" % ("/".join(shared), "s" if len(shared) > 1 else "") if shared else ""

    def journal_event(self, identities):
        """The line a transaction records when a container takes the machine's settings."""
        return "container %s took the whole machine's settings (container_owns_machine): %s" % (
            self.container, ", ".join(sorted(identities)))
