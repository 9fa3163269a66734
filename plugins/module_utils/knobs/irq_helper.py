# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The program the IRQ knob installs on a host, as text.

IRQ numbers change between boots, so affinities are persisted by IRQ name and
re-applied at boot by this program (from a systemd unit); irqbalance runs it
as its --policyscript and leaves the IRQs it names alone. It must run with
nothing but python3, so it is kept here as source, not imported.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

HELPER_PATH = "/usr/local/libexec/hostperf-tuning-irq-affinity"
CONFIG_PATH = "/etc/hostperf-tuning/irq-affinity.conf"

HELPER_SOURCE = r'''#!/usr/bin/python3
"""Managed by hostperf.tuning: put IRQ affinities back by IRQ name; roll back with hostperf.tuning.rollback.

  hostperf-tuning-irq-affinity apply [--root DIR]   at boot, from hostperf-tuning-irq-affinity.service
  hostperf-tuning-irq-affinity DEVPATH IRQ          as irqbalance's --policyscript: ban=true for our IRQs
"""
import os
import sys

CONFIG = "%(config)s"


def wanted(root):
    """{irq name: cpu list} from lines 'CPUS<TAB>NAME'."""
    result = {}
    with open(root + CONFIG) as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line and not line.startswith("#") and "\t" in line:
                cpus, name = line.split("\t", 1)
                result[name] = cpus
    return result


def names_of(root, irq):
    try:
        with open("%%s/sys/kernel/irq/%%s/actions" %% (root, irq)) as handle:
            return [name for name in handle.read().strip().split(",") if name]
    except OSError:
        return []


def apply(root):
    todo = wanted(root)
    failed = 0
    for entry in sorted(os.listdir(root + "/sys/kernel/irq"), key=lambda text: (len(text), text)):
        if not entry.isdigit():
            continue
        for name in names_of(root, entry):
            if name in todo:
                try:
                    with open("%%s/proc/irq/%%s/smp_affinity_list" %% (root, entry), "w") as handle:
                        handle.write(todo.pop(name))
                    print("irq %%s (%%s): set" %% (entry, name))
                except OSError as exc:
                    failed += 1
                    print("irq %%s (%%s): %%s" %% (entry, name, exc), file=sys.stderr)
                break
    for name in sorted(todo):
        print("no IRQ named %%s on this boot" %% name, file=sys.stderr)
    return 1 if failed else 0


def main(argv):
    root = ""
    if "--root" in argv:
        root = argv[argv.index("--root") + 1]
        argv = argv[:argv.index("--root")] + argv[argv.index("--root") + 2:]
    if argv[:1] == ["apply"]:
        return apply(root)
    if len(argv) == 2 and argv[1].isdigit():
        try:
            ours = wanted(root)
        except OSError:
            return 0
        if any(name in ours for name in names_of(root, argv[1])):
            print("ban=true")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
''' % {"config": CONFIG_PATH}
