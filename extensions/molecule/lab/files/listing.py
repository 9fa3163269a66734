"""Print every file, link and directory under the places hostperf.tuning may write, with mode and sha256.

Run on a lab VM by prepare (pristine) and by the verifier (now): equal listings mean the host is byte for byte
back where the collection writes.
"""

import hashlib
import os
import stat
import sys

PLACES = ["/etc/sysctl.d", "/etc/udev/rules.d", "/etc/modules-load.d", "/etc/modprobe.d", "/etc/systemd/system",
          "/etc/tmpfiles.d", "/etc/hostperf-tuning", "/usr/local/libexec", "/etc/default/grub.d", "/etc/grub.d",
          "/boot/grub/grub.cfg"]


def describe(path):
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return "l %o %s -> %s" % (stat.S_IMODE(info.st_mode), path, os.readlink(path))
    if stat.S_ISDIR(info.st_mode):
        return "d %o %s" % (stat.S_IMODE(info.st_mode), path)
    with open(path, "rb") as handle:
        return "f %o %s %s" % (stat.S_IMODE(info.st_mode), path, hashlib.sha256(handle.read()).hexdigest())


def main():
    lines = []
    for place in PLACES:
        if not os.path.lexists(place):
            lines.append("- %s" % place)
            continue
        lines.append(describe(place))
        for top, dirs, files in os.walk(place):
            lines.extend(describe(os.path.join(top, entry)) for entry in dirs + files)
    sys.stdout.write("\n".join(sorted(lines)) + "\n")


main()
