# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Managed by hostperf.tuning: put IRQ affinities back by IRQ name; roll back with hostperf.tuning.rollback.

  hostperf-tuning-irq-affinity apply [--root DIR]   at boot, from hostperf-tuning-irq-affinity.service
  hostperf-tuning-irq-affinity DEVPATH IRQ          as irqbalance's --policyscript: ban=true for our IRQs,
                                                    whose affinity it sets again first

IRQ numbers change between boots, so the IRQ knob persists affinities by IRQ
name and installs this file, unchanged but for a #! line, as the program that
re-applies them. It runs on the host with nothing but python3: it imports
nothing beyond the standard library.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

CONFIG_PATH = "/etc/hostperf-tuning/irq-affinity.conf"


def wanted(root):
    """{irq name: cpu list} from lines 'CPUS<TAB>NAME'."""
    result = {}
    with open(root + CONFIG_PATH) as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line and not line.startswith("#") and "\t" in line:
                cpus, name = line.split("\t", 1)
                result[name] = cpus
    return result


def names_of(root, irq):
    try:
        with open("%s/sys/kernel/irq/%s/actions" % (root, irq)) as handle:
            return [name for name in handle.read().strip().split(",") if name]
    except OSError:
        return []


def place(root, irq, name, cpus):
    """Write one IRQ's affinity; False (and why, on stderr) when the kernel refuses."""
    try:
        with open("%s/proc/irq/%s/smp_affinity_list" % (root, irq), "w") as handle:
            handle.write(cpus)
    except OSError as exc:
        sys.stderr.write("irq %s (%s): %s\n" % (irq, name, exc))
        return False
    return True


def apply(root):
    todo = wanted(root)
    failed = 0
    for entry in sorted(os.listdir(root + "/sys/kernel/irq"), key=lambda text: (len(text), text)):
        if not entry.isdigit():
            continue
        for name in names_of(root, entry):
            if name in todo:
                if place(root, entry, name, todo.pop(name)):
                    sys.stdout.write("irq %s (%s): set\n" % (entry, name))
                else:
                    failed += 1
                break
    for name in sorted(todo):
        sys.stderr.write("no IRQ named %s on this boot\n" % name)
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
        # irqbalance asks once per IRQ it finds: at its start and for an IRQ a driver re-requested (a link
        # reopened, channels changed), whose fresh descriptor has the default affinity. Set ours again then.
        for name in names_of(root, argv[1]):
            if name in ours:
                place(root, argv[1], name, ours[name])
                sys.stdout.write("ban=true\n")
                break
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
