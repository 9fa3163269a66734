# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel command line as the running kernel got it and as the host's boot loader will pass it next.

A command-line setting is only as good as the boot loader that carries it: a host booted some other way (a
VM's direct kernel boot, the EFI stub) would ignore it forever, and a GRUB configuration someone edited without
regenerating would slip their edit into our change. Both are found here, before anything is written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

GRUB_DEFAULTS = "/etc/default/grub"
GRUB_CFG = "/boot/grub/grub.cfg"
GRUBENV = "/boot/grub/grubenv"  # GRUB's environment block: 1024 bytes GRUB itself rewrites in place (save_env)
TRIAL_VARIABLE = "hostperf_trial"  # the GRUB environment variable a boot-once trial sets and GRUB unsets
BLS_ENTRIES = "/boot/loader/entries"
GRUB = "grub"
# grub-mkconfig's inputs besides /etc/default/grub and the kernels in /boot: the drop-ins and the scripts.
GRUB_INPUT_DIRS = ("/etc/default/grub.d", "/etc/grub.d")
UPDATE_GRUB = ("/usr/sbin/update-grub", "/sbin/update-grub")
# The variable the generated grub.cfg sets to our parameters and every normal entry's linux line expands.
GRUB_VARIABLE = "hostperf_args"
_SET_LINE = re.compile(r"^\s*set %s='([^']*)'\s*$" % GRUB_VARIABLE, re.M)
_LINUX_LINE = re.compile(r"^\s*linux(?:efi|16)?\s+(\S+)(.*)$")
_MENUENTRY = re.compile(r"^\s*menuentry\s+'([^']*)'")
GENERATE_TIMEOUT = 300  # grub-mkconfig probes every disk; an eMMC edge box or an emulated VM is slow


def parse_cmdline(text):
    """[(key, value or None)] of a kernel command line, split as the kernel's next_arg does (double quotes
    group a value with spaces)."""
    words, word, quoted = [], [], False
    for char in text or "":
        if char == '"':
            quoted = not quoted
        elif char.isspace() and not quoted:
            if word:
                words.append("".join(word))
            word = []
        else:
            word.append(char)
    if word:
        words.append("".join(word))
    return [(key, value if sep else None) for key, sep, value in (word.partition("=") for word in words)]


def parameter_name(key):
    """The kernel compares parameter names with dashes and underscores alike (parameq)."""
    return key.replace("-", "_")


def last_value(pairs, key):
    """(present, value) of the last occurrence of key: most parameters take the last one given."""
    found = (False, None)
    for name, value in pairs:
        if parameter_name(name) == key:
            found = (True, value)
    return found


def running_cmdline(tree):
    return tree.read("/proc/cmdline")


def boot_loader(tree):
    """(GRUB, None) where this collection can write the command line, else (None, why not)."""
    running = running_cmdline(tree)
    if running is None:
        return None, "/proc/cmdline cannot be read"
    grub = tree.exists(GRUB_DEFAULTS) and tree.exists(GRUB_CFG)
    if grub and not any(tree.exists(path) for path in UPDATE_GRUB):
        grub = False
    if tree.isdir(BLS_ENTRIES) and any(name.endswith(".conf") for name in tree.listdir(BLS_ENTRIES)):
        return None, ("its boot entries are BLS files in %s (grubby, the RHEL family), which this collection "
                      "does not write yet" % BLS_ENTRIES)
    if not grub:
        return None, ("no boot loader configuration this collection can write: GRUB needs %s, %s and update-grub "
                      "(Debian, Ubuntu)" % (GRUB_DEFAULTS, GRUB_CFG))
    if not any(key == "BOOT_IMAGE" for key, dummy in parse_cmdline(running)):
        return None, ("the running kernel was not started by GRUB (/proc/cmdline has no BOOT_IMAGE=: a direct "
                      "kernel boot, the EFI stub or another loader), so GRUB's command line would never reach it")
    return GRUB, None


def grub_environment(tree):
    """{name: value} of GRUB's environment block ({} when there is none)."""
    text = tree.read(GRUBENV) or ""
    variables = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue  # the signature, Debian's warning, the padding
        name, sep, value = line.partition("=")
        if sep:
            variables[name] = value
    return variables


# Where GRUB's save_env cannot write the block (it writes the file's own sectors, unchecked): a trial's variable
# would stay set, and the "one" boot would be every boot.
_NO_SAVE_ENV_FS = ("btrfs", "zfs")


def trial_refusal(tree):
    """Why GRUB could not unset a boot-once variable as it boots (so no trial), or None."""
    if len(tree.read_bytes(GRUBENV) or b"") != 1024:
        return "%s is missing or not a 1024-byte GRUB environment block (grub-editenv %s create)" % (GRUBENV, GRUBENV)
    probed = {}
    for target in ("fs", "abstraction"):
        result = tree.run(["grub-probe", "--target=" + target, "/boot/grub"])
        if not result.ok:
            error = (result.stderr or "").strip()[-200:] or "rc %d" % result.rc
            return "grub-probe cannot tell what /boot/grub is on: %s" % error
        probed[target] = result.stdout.split()
    if set(probed["fs"]) & set(_NO_SAVE_ENV_FS):
        return "/boot/grub is on %s, where GRUB does not write its environment block" % probed["fs"][0]
    if probed["abstraction"]:
        return ("/boot/grub is on %s, where GRUB does not write its environment block"
                % " and ".join(probed["abstraction"]))
    return None


class GrubConfig:
    """What /boot/grub/grub.cfg passes the kernel: our parameters (the hostperf_args it sets) and the rest of the
    first normal entry's linux line (the distribution's and the operator's own)."""

    def __init__(self, text):
        match = _SET_LINE.search(text)
        self.ours = parse_cmdline(match.group(1)) if match else []
        self.others = []
        entry = None
        for line in text.splitlines():
            title = _MENUENTRY.match(line)
            if title:
                entry = title.group(1)
            linux = _LINUX_LINE.match(line)
            if linux and entry is not None and "recovery" not in entry.lower():
                self.others = [(key, value) for key, value in parse_cmdline(linux.group(2))
                               if "${%s}" % GRUB_VARIABLE not in key and "$%s" % GRUB_VARIABLE not in key]
                break

    @classmethod
    def read(cls, tree):
        text = tree.read(GRUB_CFG)
        return None if text is None else cls(text)


def _inputs(tree):
    """A digest of what grub-mkconfig reads and of grub.cfg: equal digests, equal answers."""
    digest = hashlib.sha256(tree.root.encode("utf-8"))
    paths = [GRUB_DEFAULTS, GRUB_CFG] + ["%s/%s" % (directory, name) for directory in GRUB_INPUT_DIRS
                                         for name in tree.listdir(directory)]
    for path in paths:
        if not tree.isdir(path):
            digest.update(path.encode("utf-8") + b"\0" + (tree.read_bytes(path) or b"") + b"\0")
    digest.update("\0".join(tree.listdir("/boot")).encode("utf-8"))  # the kernels it lists, by name
    return digest.hexdigest()


_STALE = {}  # grub-mkconfig probes every disk: a tune that validates twice runs it once


def stale_reason(tree):
    """Why grub.cfg is not what grub-mkconfig makes of the configuration now (an edit of /etc/default/grub not
    yet applied), or None: update-grub would slip that edit into our change."""
    key = _inputs(tree)
    if key not in _STALE:
        _STALE[key] = _stale_reason(tree)
    return _STALE[key]


def _stale_reason(tree):
    made = tree.run(["grub-mkconfig"], timeout=GENERATE_TIMEOUT)
    if not made.ok:
        error = (made.stderr or "").strip()[-300:] or "rc %d" % made.rc
        return "grub-mkconfig fails on this host's configuration: %s" % error
    if made.stdout.rstrip("\n") != (tree.read(GRUB_CFG) or "").rstrip("\n"):
        return ("%s is not what grub-mkconfig makes of the configuration now (an edit of %s or /etc/grub.d not "
                "yet applied with update-grub): regenerating it would apply that edit too; run update-grub and "
                "review it first" % (GRUB_CFG, GRUB_DEFAULTS))
    return None
