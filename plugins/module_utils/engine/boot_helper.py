# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The boot recovery's program: engine/boot_recovery.py installs it (bundled) and its unit runs it.

  boot-recovery --journal DIR [--root DIR]

Exits 1 when a file could not be put back or the journal cannot be trusted: the unit fails, so the boot
says so (systemctl --failed) instead of going on half-tuned in silence.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import sys

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal, JournalError
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError


def main(argv):
    parser = argparse.ArgumentParser(prog="boot-recovery", description="hostperf.tuning boot recovery")
    parser.add_argument("--journal", required=True, help="the journal directory")
    parser.add_argument("--root", default="/", help="the host's root (tests)")
    args = parser.parse_args(argv)
    tree = HostTree(args.root)
    try:
        report = Engine(tree, Journal(tree, args.journal)).recover_at_boot()
    except (JournalError, KnobError, OSError) as exc:
        sys.stderr.write("boot-recovery: %s\n" % exc)
        return 1
    for record in report["transactions"]:
        sys.stdout.write("boot-recovery: transaction %s (%s): put back %s\n" % (
            record["id"], record["state"], ", ".join(record["files"]) or "nothing, its files were as before"))
    for error in report["errors"]:
        sys.stderr.write("boot-recovery: %s\n" % error)
    return 1 if report["errors"] else 0
