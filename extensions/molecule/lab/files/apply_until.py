"""Run an apply on this VM that stops itself (SIGSTOP) at one of the engine's fault points.

crash.yml then powers the VM off (lab.sh restart) while the apply is stopped exactly there: a power loss at a
known step, not wherever a timer happened to land.

  python3 apply_until.py DIR STEP    DIR holds ansible_collections/ (the collection's module_utils)

The settings reach every kind of file the boot reads early: sysctl.d, modules-load.d, the block udev rule, and
the IRQ kind's unit, its drop-ins and irqbalance's (the helper they name is the file it stops before).
"""

import os
import signal
import sys


def main():
    directory, step = sys.argv[1], sys.argv[2]
    sys.path.insert(0, directory)
    from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
    from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine
    from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree

    desired = {"sysctl:net.ipv4.tcp_rmem": "4096 4096 4096", "block:nvme0n1:read_ahead_kb": 1024,
               "module:tcp_bbr": "loaded"}
    for irq in os.listdir("/sys/kernel/irq"):
        with open("/sys/kernel/irq/%s/actions" % irq) as handle:
            if handle.read().strip().startswith("enp130s0"):
                desired["irq:" + irq] = "2"

    def stop_at(at):
        if at == step:
            with open(os.path.join(directory, "stopped"), "w") as handle:
                handle.write(at + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.kill(os.getpid(), signal.SIGSTOP)

    tree = HostTree("/")
    journal = Journal(tree)
    with journal.lock():
        Engine(tree, journal, fault=stop_at).apply(desired, label="lab: power loss inside an apply")
    sys.exit("the apply ran past %r without stopping there" % step)


if __name__ == "__main__":
    main()
