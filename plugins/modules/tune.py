#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: tune
short_description: Apply kernel settings as one transaction that can always be rolled back
version_added: 0.1.0
description:
  - Sets sysctls, block queue settings (per disk or per device class), NIC rings, channels, offloads, coalescing,
    MTU and RPS/XPS (per interface or per driver), TCP congestion control with the default qdisc, and the kernel
    modules they need, live and persisted across reboots, as one transaction.
  - Before the first change it writes a journal on the host (atomic, fsync, mode 0600, under an exclusive lock)
    with every value and every file it will touch. Any failure part-way (the kernel refusing a value, a vanished
    device, a full disk) puts every value and file back and reports each setting's outcome.
  - It is idempotent, a second identical run changes nothing and reports C(changed=false), without a new journal.
  - Persistence is one file per kind owned by the collection, rendered from every setting the collection
    manages on the host, C(/etc/sysctl.d/90-hostperf-tuning.conf), C(/etc/udev/rules.d/90-hostperf-tuning-block.rules)
    (matched by WWN, serial or path; by kernel name only when the disk has none of them, and then reported),
    C(/etc/udev/rules.d/90-hostperf-tuning-net.rules) (matched
    by permanent MAC or PCI path), C(/etc/modules-load.d/hostperf-tuning.conf).
  - M(hostperf.tuning.rollback) undoes the last transaction, a named one, or everything.
author:
  - hostperf.tuning engineers (@hostperf)
extends_documentation_fragment:
  - hostperf.tuning.journal
options:
  block:
    description:
      - Queue settings for disks, each item naming one O(block[].device) or one O(block[].class).
    type: list
    elements: dict
    default: []
    suboptions:
      device:
        description:
          - Kernel name of a whole disk (C(nvme0n1), C(sda)). It gets exactly these values; one it cannot take fails
            before any change.
        type: str
      class:
        description:
          - Every disk of this class as M(hostperf.tuning.host_facts) classifies it, as a profile's block section does.
            A host with none has nothing to do, a scheduler a disk does not offer is left out, and C(>N) values only
            raise; each is a note, not an error.
        type: str
        choices: [nvme, ssd, hdd, virtual, emmc, sdcard, removable]
      scheduler:
        description: I/O scheduler; must be one the device offers.
        type: str
      nr_requests:
        description: Queue depth (4 to 65536). Applied after the scheduler, which resets it.
        type: int
      read_ahead_kb:
        description: Read-ahead in KiB.
        type: int
      rq_affinity:
        description: Complete requests on the submitting CPU's group (1) or the CPU itself (2).
        type: int
        choices: [0, 1, 2]
      nomerges:
        description: Disable merging (1 simple only, 2 none).
        type: int
        choices: [0, 1, 2]
      max_sectors_kb:
        description: Largest request in KiB, at most the device's C(max_hw_sectors_kb).
        type: int
  nic:
    description:
      - Settings for network interfaces, each item naming one O(nic[].interface) or one O(nic[].driver).
      - Only what the driver can change is attempted. A ring or channel count above the driver's maximum, a feature
        the driver fixes or lacks, a coalescing parameter it shows as C(n/a), or a driver that answers
        C(Operation not supported) (veth rings, say) fails before any change, naming the setting.
      - Changing rings, channels or the MTU makes most drivers reset the link, a short outage; each such change is
        listed with a C(disruption) in RV(settings) and as a warning.
      - Persisted as one udev rule per interface in C(/etc/udev/rules.d/90-hostperf-tuning-net.rules), matched by
        the permanent MAC address (or the PCI path, or, failing both, the name), that re-applies the values with
        C(ethtool) and sysfs when the interface appears.
    type: list
    elements: dict
    default: []
    suboptions:
      interface:
        description: Interface name (C(ens1f0np0)).
        type: str
      driver:
        description:
          - Every hardware interface bound to this driver (C(mlx5_core), C(igb)). A host with none has nothing to do
            (a note, not an error), since a selector set for a whole group must not fail the hosts without that NIC.
        type: str
      rings:
        description:
          - Ring sizes by ethtool parameter (C(rx), C(tx), C(rx-mini), C(rx-jumbo)). A value is a number, C(max),
            a percentage (C(50%)) or a fraction (C(0.5)) of the maximum the driver reports.
        type: dict
      channels:
        description: Channel counts by parameter (C(combined), C(rx), C(tx), C(other)); values as for O(nic[].rings).
        type: dict
      features:
        description:
          - Offloads on or off, by the name C(ethtool -k) prints (C(generic-receive-offload),
            C(rx-udp-gro-forwarding)) or its short name (C(gro), C(tso), C(lro), C(rx), C(tx), C(sg), ...).
          - Features the kernel switches as a consequence (C(tx) off turns TSO off) are journaled and rolled back.
        type: dict
      coalesce:
        description: Interrupt coalescing by C(ethtool -C) parameter (C(rx-usecs), C(adaptive-rx), ...).
        type: dict
      mtu:
        description: MTU, within the driver's limits. The network configuration of the host must agree.
        type: int
      txqueuelen:
        description: Length of the interface's transmit queue.
        type: int
      rps:
        description:
          - Receive packet steering CPUs for every receive queue, a CPU list (C(2-3)), C(local) for the CPUs of
            the NIC's own NUMA node without isolated ones, or an empty string to turn RPS off.
        type: str
      xps:
        description: Transmit packet steering CPUs for every transmit queue, as for O(nic[].rps).
        type: str
  irq_affinity:
    description:
      - IRQ placement for a NIC's or a disk's IRQs. Queue IRQs are spread one queue per CPU over O(irq_affinity[].cpus)
        (the IRQs of a queue pair share a CPU), the device's other IRQs get the whole set.
      - Kernel-managed IRQs (NVMe queues, virtio-blk) are never written; they are listed in RV(notes).
      - Persisted by IRQ name, because IRQ numbers change between boots, in C(/etc/hostperf-tuning/irq-affinity.conf),
        re-applied at boot by C(/usr/local/libexec/hostperf-tuning-irq-affinity) from
        C(hostperf-tuning-irq-affinity.service).
    type: list
    elements: dict
    default: []
    suboptions:
      interface:
        description: A hardware interface whose IRQs to place.
        type: str
      device:
        description: A whole disk (C(nvme0n1)) whose non-managed IRQs to place.
        type: str
      cpus:
        description:
          - C(local) for the CPUs of the device's own NUMA node (all CPUs when the node is unknown), C(all) for every
            online CPU, or a CPU list (C(2-3,6)). Isolated CPUs are left out of C(local) and C(all).
        type: str
        default: local
      xps:
        description: Also make each transmit queue send from the CPU that takes its interrupts (XPS).
        type: bool
        default: false
  irqbalance:
    description:
      - How placed IRQs coexist with irqbalance. C(ban) keeps it running and makes it leave these IRQs alone, through
        a drop-in that gives it the helper as C(--policyscript) (restarted when it runs). C(stop) stops and disables
        it. Rollback undoes either.
    type: str
    choices: [ban, stop]
    default: ban
  tcp_congestion_control:
    description:
      - TCP congestion control to set. Its module (for example C(tcp_bbr)) is loaded and persisted when needed.
      - Like a profile, a selector for a whole fleet, an algorithm the kernel cannot provide (or a container's
        namespace does not allow) leaves the current one and says so in RV(notes); with C(bbr), C(fq) is then not
        set either. Name C(sysctl:net.ipv4.tcp_congestion_control) in O(settings) to fail instead.
    type: str
  default_qdisc:
    description:
      - Default queueing discipline (C(fq) for BBR). Set only where the kernel has it; otherwise
        O(default_qdisc_fallback) decides.
      - The kernel gives an interface the default only when it comes up, so every interface already up whose root
        qdisc the kernel attached is re-attached to it too (C(qdisc:IF) settings, listed and rolled back like the
        others), as the next boot would have it; roots someone configured are left alone. Needs C(tc) (iproute2).
    type: str
  default_qdisc_fallback:
    description:
      - What to do when O(default_qdisc) does not exist on the host. C(keep) leaves the current default and notes it
        (BBR paces by itself since Linux 4.13), C(fail) fails before any change, any other value is a qdisc to use
        instead where it exists.
    type: str
    default: keep
  settings:
    description:
      - "Settings by identity, as the planner writes them, for example C(sysctl:vm.swappiness) set to C(10),
        C(module:tcp_bbr) set to C(loaded), C(unit:nginx.service:cpu_affinity) set to C(2-3) or
        C(block:nvme0n1:scheduler) set to C(none) (docs/identities.md lists every kind). They win over what the
        selectors above plan for the same identity."
      - "A kernel command-line parameter, C(cmdline:KEY) set to its value, C(true) for one without a value or
        C(absent), is written to the boot loader's configuration (GRUB: a drop-in under /etc/default/grub.d and
        update-grub) and reaches the kernel at the next boot (RV(reboot)); docs/boot.md."
    type: dict
    default: {}
  persist:
    description:
      - Also write the persistence files. With C(false) only live values change (until reboot); a kernel
        command-line parameter, which lives only in the boot configuration, is then refused.
    type: bool
    default: true
  boot_trial:
    description:
      - Arm the C(cmdline:KEY) settings as a boot-once trial instead of changing the boot loader's default. The
        parameters the next boot would get (the default's, with these applied) are journaled as one setting,
        C(cmdline_trial:grub), and set in GRUB's environment block; GRUB passes them to one boot and unsets them
        before the kernel starts, so a host that does not come back boots its default at the next power cycle.
      - A later tune of the same C(cmdline:KEY) settings without C(boot_trial) makes them the default and ends the
        trial; M(hostperf.tuning.rollback) of this transaction disarms it (a reboot then leaves the trial's
        parameters). Refused where GRUB cannot unset the variable as it boots (C(/boot/grub) on btrfs or zfs, on
        LVM, RAID or an encrypted device; no C(/boot/grub/grubenv)); docs/boot.md.
    type: bool
    default: false
  label:
    description: A label recorded with the transaction (for example the profile name).
    type: str
  interrupted:
    description:
      - What to do when the journal holds a transaction a killed run left unfinished. C(fail) reports it and changes
        nothing; C(rollback) rolls it back first, then applies.
    type: str
    choices: [fail, rollback]
    default: fail
  container_owns_machine:
    description:
      - Inside a container (podman, docker, lxc, systemd-nspawn, ...), settings that are the whole machine's are
        refused by default, naming each. They are every sysctl outside the namespaces the container has of its own (C(vm.*),
        C(kernel.*), C(fs.*), and C(net.*) when it shares the host's network namespace), block queues, IRQs,
        kernel modules, cpufreq and transparent hugepages. Set from inside a container they tune the host under
        every container on it.
      - C(true) takes them anyway (a privileged agent that tunes its node on purpose); the transaction records it
        in its events and RV(notes) says so. Its rollback puts them back like any other.
      - A net.* key is the container's when its network namespace is its own, which the kernel tells by
        registering only per-namespace keys there (the conntrack limits, shown read-only, are the machine's); its
        interfaces, their root qdiscs and its own units are always the container's.
    type: bool
    default: false
  coexistence:
    description:
      - What to do with a setting someone else would undo. Such a setting is a sysctl that a C(sysctl.d) file
        read after ours at boot sets to another value (C(/etc/sysctl.conf) as Debian's C(99-sysctl.conf) among
        them), a NIC value a NetworkManager connection profile sets, or a setting of a kind a running (or
        enabled) tuned sets when it starts (disks, CPU clock, THP, NICs, IRQs, vm.dirty_* and kernel.sched_*,
        other sysctls unless its C(reapply_sysctl) re-applies ours after them). A net.* sysctl that bpftune
        auto-tunes is one too.
      - C(refuse) fails before any change, naming each setting, the file and line or the daemon.
      - C(take) stops and disables the daemon in the same transaction (C(service:tuned.service:active) and
        C(:enabled) settings, listed like the others), recorded in its events; its rollback starts and enables it
        again. Another file's line is never taken; change it there.
    type: str
    choices: [refuse, take]
    default: refuse
  reassert_files:
    description:
      - Also write every persistence file that differs from what the settings the collection manages render, even
        when this request changes none of them (someone edited or removed one). M(hostperf.tuning.drift_info)
        says when this is needed; playbooks/drift.yml uses it to repair.
      - The files' old content is journaled like any other change, so a rollback of the repair puts back the edit.
    type: bool
    default: false
notes:
  - Multi-value sysctls are compared by value. Changing a scheduler resets C(nr_requests); the module orders writes
    so that both end as asked.
  - Kernel modules loaded by a transaction are unloaded by its rollback when they were absent before; a module in
    use cannot be unloaded and is reported.
seealso:
  - module: hostperf.tuning.rollback
  - module: hostperf.tuning.journal_info
  - module: hostperf.tuning.host_facts
attributes:
  check_mode:
    description: Reports every value and file that would change, and changes nothing.
    support: full
  diff_mode:
    description:
      - Shows before and after of every live value and every persistence file; generated files (the journal's
        state, the IRQ helper program) as a line count unless Ansible runs with C(-v).
    support: full
"""

EXAMPLES = r"""
- name: Throughput settings for NVMe hosts with BBR
  hostperf.tuning.tune:
    label: datacenter
    settings:
      sysctl:net.core.rmem_max: 67108864
      sysctl:net.ipv4.tcp_rmem: [4096, 87380, 67108864]
    block:
      - class: nvme
        scheduler: none
        nr_requests: 1023
      - class: hdd
        scheduler: mq-deadline
        read_ahead_kb: 4096
    tcp_congestion_control: bbr
    default_qdisc: fq
    default_qdisc_fallback: keep

- name: Deeper rings and adaptive coalescing on the 100G ports, GRO on, LRO off
  hostperf.tuning.tune:
    nic:
      - driver: mlx5_core
        rings: {rx: max, tx: max}
        coalesce: {adaptive-rx: "on"}
        features: {gro: "on", lro: "off"}
        rps: local

- name: NIC IRQs on the NIC's own NUMA node, transmit queues following them; irqbalance leaves them alone
  hostperf.tuning.tune:
    irq_affinity:
      - interface: ens1f0np0
        cpus: local
        xps: true
    irqbalance: ban

- name: Apply what the planner decided
  hostperf.tuning.tune:
    settings: "{{ hostperf_plan.settings }}"
"""

RETURN = r"""
transaction:
  description: Id of the journaled transaction, or null when nothing changed (or in check mode).
  returned: always
  type: str
  sample: 20261122T194501.123456Z-1a2b3c4d
pairs:
  description:
    - Whether the change can be measured in AB/BA pairs (M(hostperf.tuning.benchmark) with
      O(hostperf.tuning.benchmark#module:paired_with)); C(possible), and C(reason) when it cannot (a setting whose
      switch resets a link, restarts a daemon or reserves memory; docs/gate.md).
  returned: always
  type: dict
  sample: {possible: false, reason: "nic:eth0:rings:rx cannot be switched between trials (...)"}
reboot:
  description:
    - C(required) when a setting reaches the running kernel only at its next boot (a kernel command-line parameter,
      C(cmdline:*), which this module writes to the boot loader's configuration), with the C(reasons), one per
      setting. In check mode, what the change would need.
  returned: always
  type: dict
  sample: {required: true, reasons: ["cmdline:isolcpus is 2-3 from the next boot; the running kernel has absent"]}
settings:
  description: Every requested setting with its value before and after, and C(status) (changed, unchanged,
    restored, failed).
  returned: always
  type: list
  elements: dict
  sample: [{identity: "sysctl:net.core.somaxconn", before: "4096", after: "8192", changed: true, status: changed}]
files:
  description:
    - Persistence files created, updated or removed, with C(path), C(action), their content C(before) and C(after),
      and C(generated) (the journal's state and the collection's own programs, which C(--diff) shows as a line
      count unless run with C(-v)).
  returned: always
  type: list
  elements: dict
hooks:
  description: Commands run after persistence files changed (C(systemctl daemon-reload)), with their exit codes.
  returned: when a persistence file changed
  type: list
  elements: dict
notes:
  description: What the module decided on its own, for example keeping the default qdisc where fq does not exist.
  returned: always
  type: list
  elements: str
recovered:
  description: Interrupted transactions rolled back first (O(interrupted=rollback)).
  returned: when one was found
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostperf.tuning.plugins.module_utils.rules.coexistence import COEXISTENCE_MODES
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.planner import SELECTOR_SPEC
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import COMMON_OPTIONS, finish, open_journal, tune


def main():
    module = AnsibleModule(
        argument_spec=dict(
            settings=dict(type="dict", default={}),
            persist=dict(type="bool", default=True),
            boot_trial=dict(type="bool", default=False),
            label=dict(type="str"),
            interrupted=dict(type="str", choices=["fail", "rollback"], default="fail"),
            container_owns_machine=dict(type="bool", default=False),
            coexistence=dict(type="str", choices=list(COEXISTENCE_MODES), default="refuse"),
            reassert_files=dict(type="bool", default=False),
            **dict(SELECTOR_SPEC, **COMMON_OPTIONS)
        ),
        supports_check_mode=True,
    )
    tree, journal = open_journal(module.params)
    finish(module, lambda: tune(tree, journal, module.params, module.check_mode),
           dict(changed=False, transaction=None, settings=[], files=[], notes=[]))


if __name__ == "__main__":
    main()
