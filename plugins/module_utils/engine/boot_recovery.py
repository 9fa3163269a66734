# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The boot unit that makes a crash inside an apply or a rollback boot the host as it was before.

An apply writes several files (sysctl.d, udev rules, modules-load.d, units); a host that dies between two of
them would boot with some. So every apply that persists anything first installs, in this order, a helper (a
fixed root-only path: the unit runs it as root, so no journal_dir may decide where it is), a unit that runs it
early in the boot, and the drop-in that makes sysinit.target want it; a rollback removes them last. At boot
the helper (main() below, bundled) puts back the files of every transaction left unfinished before
systemd-sysctl, modules-load, tmpfiles and udev read them. The live values then come from those files, as
before the apply; the record stays unfinished until `rollback interrupted` has verified them (docs/engine.md,
"Crash safety across a boot").
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import os
import re
import sys

from ansible_collections.hostperf.tuning.plugins.module_utils.host import bundle
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import HEADER, KnobError, Persistence

UNIT_NAME = "hostperf-tuning-boot-recovery.service"
UNIT_PATH = "/etc/systemd/system/" + UNIT_NAME
WANTS_PATH = "/etc/systemd/system/sysinit.target.d/90-hostperf-tuning-boot-recovery.conf"
HELPER_PATH = "/usr/local/libexec/hostperf-tuning-boot-recovery"
OWN_FILES = (HELPER_PATH, UNIT_PATH, WANTS_PATH)  # the order an apply writes them in
ENTRY = "ansible_collections.hostperf.tuning.plugins.module_utils.engine.boot_recovery"
# What a unit file may hold unquoted and unescaped; a path with anything else is refused, not escaped.
_UNIT_SAFE = re.compile(r"^/[A-Za-z0-9/._+-]*$")
# Read at boot from the files this collection writes; the recovery must come first.
# udevd reads its rules when it starts: before it, no reload is needed (and asking a udevd that is not up yet
# through its socket would start it and wait on it, which waits on us).
_READERS = ("systemd-modules-load.service", "systemd-sysctl.service", "systemd-tmpfiles-setup-dev.service",
            "systemd-tmpfiles-setup.service", "systemd-udevd.service", "systemd-udev-trigger.service")


def _unit_path_value(setting, path):
    if not _UNIT_SAFE.match(path) or "//" in path:
        raise KnobError("%s %r: the boot recovery unit names it, so it may hold only letters, digits and / . _ + -"
                        % (setting, path))
    return path


def unit_text(journal_dir, python, on_root):
    """The unit; on_root: the journal, the helper and Python are on the root filesystem, so it can run before
    anything reads our files.

    Another filesystem (a separate /var or /usr/local) is mounted only after udev has run: ordering before the
    readers there would make a cycle (its device needs udev), so the unit runs after local-fs.target, after
    the readers: that boot runs with the interrupted apply's partial files until `rollback interrupted`
    (docs/engine.md).
    """
    directory = _unit_path_value("journal_dir", journal_dir.rstrip("/"))
    interpreter = _unit_path_value("the Python that runs the module (ansible_python_interpreter)", python)
    order = ("After=systemd-remount-fs.service\nBefore=%s sysinit.target shutdown.target\n" % " ".join(_READERS)
             if on_root else "After=local-fs.target\nBefore=sysinit.target shutdown.target\n")
    return HEADER + (
        "[Unit]\n"
        "Description=hostperf.tuning: put back the files of an apply or rollback a crash interrupted\n"
        "DefaultDependencies=no\n"
        "Conflicts=shutdown.target\n"
        "%s"
        "RequiresMountsFor=%s %s %s\n"
        "ConditionPathExists=%s\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        "RemainAfterExit=yes\n"
        "ExecStart=%s -I %s --journal %s\n") % (
            order, directory, os.path.dirname(HELPER_PATH), interpreter, HELPER_PATH, interpreter, HELPER_PATH,
            directory)


def helper_text():
    return bundle.program(ENTRY, "sys.exit(boot_recovery.main(sys.argv[1:]))",
                          HEADER + "# Run at boot by %s: see engine/boot_recovery.py.\n" % UNIT_NAME)


def on_root_filesystem(tree, *paths):
    """Whether every path (or its nearest existing ancestor) is on the same filesystem as /."""
    root = os.stat(tree.path("/")).st_dev
    for path in paths:
        while path not in ("", "/") and not os.path.lexists(tree.path(path)):
            path = os.path.dirname(path)
        if os.stat(tree.path(path)).st_dev != root:
            return False
    return True


class BootRecoveryFiles(Persistence):
    """The helper, the unit and its drop-in."""

    def __init__(self):
        Persistence.__init__(self, None, None, after_change=(["systemctl", "daemon-reload"],),
                             unit=(UNIT_NAME, UNIT_PATH))

    def owns(self, path):
        return path in OWN_FILES

    def mode(self, path):
        return 0o755 if path == HELPER_PATH else 0o644

    def files_for(self, tree, journal_dir, needed):
        """{path: text or None}: all three files when the host has anything persisted, none otherwise."""
        if not needed:
            return dict((path, None) for path in OWN_FILES)
        python = sys.executable
        unit = unit_text(journal_dir, python, on_root_filesystem(tree, journal_dir, HELPER_PATH, python))
        return dict(zip(OWN_FILES, [helper_text(), unit, HEADER + "[Unit]\nWants=%s\n" % UNIT_NAME]))


BOOT_RECOVERY = BootRecoveryFiles()


def write_rank(path):
    """Apply writes the helper, then the unit, then what makes the boot run it, then everything else."""
    return OWN_FILES.index(path) if path in OWN_FILES else len(OWN_FILES)


def is_own(path):
    return path in OWN_FILES


def restore_rank(path):
    """A rollback puts everything else back first, then what runs the helper, then the helper."""
    return 3 - write_rank(path)


def main(argv):
    """The helper: boot-recovery --journal DIR [--root DIR].

    Exits 1 when a file could not be put back or the journal cannot be trusted: the unit fails, so the boot
    says so (systemctl --failed) instead of going on half-tuned in silence.
    """
    # Imported here: the engine imports this module for the files above. Both are in the module's zip, which
    # holds every collection module any import names, wherever it stands.
    from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal, JournalError
    from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine
    from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree

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
    for warning in report["warnings"]:  # a hook that failed (no irqbalance to restart, say) fails no recovery
        sys.stderr.write("boot-recovery: warning: %s\n" % warning)
    for error in report["errors"]:
        sys.stderr.write("boot-recovery: %s\n" % error)
    return 1 if report["errors"] else 0
