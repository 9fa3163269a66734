# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: host_summary
short_description: A few lines an operator reads at a glance, from host_facts
version_added: 0.1.0
author:
  - hostperf.tuning engineers (@hostperf)
description:
  - Turns the facts of M(hostperf.tuning.host_facts) into short lines, CPU and NUMA shape, memory, every disk
    and NIC with what matters for tuning, the kernel's congestion control and qdiscs, the environment, and how
    many things could not be read.
options:
  _input:
    description: The C(hostperf) facts returned by M(hostperf.tuning.host_facts).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Print the summary
  ansible.builtin.debug:
    msg: "{{ ansible_facts.hostperf | hostperf.tuning.host_summary }}"
"""

RETURN = r"""
_value:
  description: One line per area, then one line per disk and per NIC.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError


def _size(value_bytes):
    if value_bytes is None:
        return "?"
    if value_bytes < 1024:
        return "%dB" % value_bytes
    value = float(value_bytes)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024:
            return "%.1f%s" % (value, unit)
    return "%.1fTiB" % (value / 1024)


def _node(value):
    return "node?" if value is None else "node%d" % value


def _cpu_line(facts):
    cpu = facts["cpu"]
    numa = facts.get("numa", {})
    freq = cpu.get("cpufreq")
    governors = ",".join(sorted(freq["governor"])) if freq else "no cpufreq"
    line = "cpu: %d CPUs, %d socket(s) x %d core(s) x %d thread(s), %d NUMA node(s), %s, idle %s" % (
        cpu["count"], cpu["sockets"], cpu["cores"] // max(cpu["sockets"], 1), cpu["threads_per_core"],
        numa.get("node_count", 1), governors, cpu.get("idle_driver") or "?")
    if cpu.get("isolated"):
        line += ", isolated %s" % cpu["isolated"]
    return line


def _memory_line(facts):
    memory = facts["memory"]
    thp = (memory.get("thp") or {}).get("enabled", "?")
    total = _size((memory.get("total_kb") or 0) * 1024)
    swap = _size((memory.get("swap_total_kb") or 0) * 1024)
    return "memory: %s, swap %s, THP %s" % (total, swap, thp)


def _disk_line(name, disk):
    return "disk %s: %s %s %s, %s, [%s] nr_requests=%s read_ahead_kb=%s queues=%s" % (
        name, disk["class"], disk.get("transport") or "?", _size(disk.get("size_bytes")), _node(disk.get("numa_node")),
        disk.get("scheduler") or "?", disk.get("nr_requests"), disk.get("read_ahead_kb"), disk.get("hw_queues"))


def _nic_line(name, nic):
    speed = nic.get("speed_mbps")
    channels = nic.get("channels") or {}
    combined = channels.get("combined") or {}
    rings = (nic.get("rings") or {}).get("rx") or {}
    return "nic %s: %s %s, %s, %s, queues rx/tx %s/%s (combined %s/%s), rx ring %s/%s, %d IRQs" % (
        name, nic.get("driver") or "?", "%dMb/s" % speed if speed else ("speed unknown" if nic.get("operstate") == "up" else "no link"), nic.get("operstate"),
        _node(nic.get("numa_node")), nic.get("rx_queues"), nic.get("tx_queues"), combined.get("current", "-"),
        combined.get("max", "-"), rings.get("current", "-"), rings.get("max", "-"), len(nic.get("irqs", [])))


def _kernel_line(facts):
    kernel = facts["kernel"]
    offered = [name for name, present in sorted(kernel["tcp_congestion_controls"].items()) if present]
    qdiscs = [name for name, present in sorted(kernel["qdiscs"].items()) if present]
    return "kernel %s: tcp %s (offers %s), default qdisc %s (has %s)" % (
        kernel.get("release"), kernel.get("tcp_congestion_control"), ",".join(offered),
        kernel.get("default_qdisc"), ",".join(qdiscs))


def _environment_line(facts):
    env = facts["environment"]
    daemons = [name for name in ("irqbalance", "tuned", "bpftune") if env[name]["running"]]
    return "environment: virtualization %s, container %s, tuning daemons running: %s" % (
        env["virtualization"]["type"], env.get("container") or "none", ",".join(daemons) or "none")


def host_summary(facts):
    """Short lines describing a host."""
    if not isinstance(facts, dict) or "cpu" not in facts:
        raise AnsibleFilterError("host_summary expects the facts of hostperf.tuning.host_facts")
    lines = [_cpu_line(facts), _memory_line(facts)]
    lines.extend(_disk_line(name, disk) for name, disk in sorted(facts.get("block", {}).items()))
    lines.extend(_nic_line(name, nic) for name, nic in sorted(facts.get("nics", {}).items()))
    if "kernel" in facts:
        lines.append(_kernel_line(facts))
    if "environment" in facts:
        lines.append(_environment_line(facts))
    problems = facts.get("problems", [])
    lines.append("problems: %d%s" % (len(problems), "" if not problems else " (first: %s: %s)" % (
        problems[0]["path"], problems[0]["error"])))
    return lines


class FilterModule(object):
    def filters(self):
        return {"host_summary": host_summary}
