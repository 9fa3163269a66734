# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sysctl.d files a boot applies after ours, and the keys they set: at boot, the last assignment wins.

systemd-sysctl (sysctl.d(5)) reads every *.conf of its directories sorted
by file name, a name in an earlier directory hiding the same name in a
later one (a link to /dev/null masks it). A key one of them sets after our
file is the value the host boots with, whatever tune wrote. Debian's
/etc/sysctl.conf is read this way, as /etc/sysctl.d/99-sysctl.conf; tuned's
reapply_sysctl reads it itself, after the sysctl.d files.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.hostperf.tuning.plugins.module_utils.host.names import InvalidName, sysctl_key

SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")
_GLOB = set("*?[")


def boot_files(tree):
    """[(name, path)] in the order a boot applies them."""
    chosen = {}
    for directory in SYSCTL_DIRS:
        for name in tree.listdir(directory):
            if name.endswith(".conf") and name not in chosen:
                chosen[name] = directory + "/" + name
    return sorted(chosen.items())


def assignments(text):
    """[(line number, key or glob in dotted form, value)] of a sysctl.d file's text; what is not one is skipped."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        key = key.lstrip("-")
        if _GLOB & set(key):
            found.append((number, key.replace("/", "."), value))
            continue
        try:
            found.append((number, sysctl_key(key), value))
        except InvalidName:
            continue
    return found


def set_after(tree, ours):
    """{key or glob: {file, line, value, order}}: the last assignment of each key in the files a boot applies after
    ours; order counts assignments in boot order."""
    after, order = {}, 0
    name = os.path.basename(ours)
    for other, path in boot_files(tree):
        if other <= name:
            continue
        for number, key, value in assignments(tree.read(path) or ""):
            order += 1
            after[key] = {"file": path, "line": number, "value": " ".join(value.split()), "order": order}
    return after


def overriding(after, key):
    """The assignment of set_after() that a boot applies to our key last, or None.

    Our file names every key exactly, and sysctl.d(5) excludes a key named exactly anywhere from every glob:
    only an exact assignment overrides ours.
    """
    return after.get(key)


def sysctl_conf(tree, path="/etc/sysctl.conf"):
    """{key: {line, value}} of the exact keys /etc/sysctl.conf sets (the last assignment of each)."""
    return dict((key, {"line": number, "value": " ".join(value.split())})
                for number, key, value in assignments(tree.read(path) or "") if not _GLOB & set(key))
