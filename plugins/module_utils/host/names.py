# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate every name that becomes a path: sysctl keys, devices, interfaces, IRQs.

Each check raises InvalidName with a message that names the setting and the
reason, before anything is read or written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_SYSCTL_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_:@+-]*$")
_BLOCK_DEVICE = re.compile(r"^[A-Za-z][A-Za-z0-9_:+-]{0,31}$")
# The kernel's own rule (dev_valid_name): at most 15 bytes, no '/', ':' or
# whitespace, not '.' or '..'.
_INTERFACE = re.compile(r"^[^/:\s]{1,15}$")


class InvalidName(ValueError):
    pass


def sysctl_path(key):
    """'/proc/sys/net/ipv4/tcp_rmem' for 'net.ipv4.tcp_rmem' (or 'net/ipv4/tcp_rmem').

    An interface name with a dot is written with '/' in the dotted form, as
    sysctl(8) does: 'net.ipv4.conf.eth0/100.rp_filter'.
    """
    if not isinstance(key, str) or not key:
        raise InvalidName("sysctl key %r: must be a non-empty string" % (key,))
    if "/" in key and ("." not in key or key.index("/") < key.index(".")):
        # sysctl(8): the first separator decides which form the key is in.
        parts = key.split("/")
    else:
        parts = [part.replace("/", ".") for part in key.split(".")]
    for part in parts:
        if part.startswith(".") or part.endswith(".") or not _SYSCTL_PART.match(part.replace(".", "_")):
            raise InvalidName("sysctl key %r: %r is not a valid component" % (key, part))
    return "/proc/sys/" + "/".join(parts)


def sysctl_key(key):
    """The canonical dotted form of a sysctl key."""
    return ".".join(part.replace(".", "/") for part in sysctl_path(key)[len("/proc/sys/"):].split("/"))


def block_device(name):
    if not isinstance(name, str) or not _BLOCK_DEVICE.match(name) or name in (".", ".."):
        raise InvalidName("block device %r: not a kernel block device name" % (name,))
    return name


def interface(name):
    if not isinstance(name, str) or not _INTERFACE.match(name) or name in (".", ".."):
        raise InvalidName("interface %r: not a valid interface name (1-15 characters, no '/', ':' or spaces)"
                          % (name,))
    return name


def irq_number(value):
    text = str(value)
    if not re.match(r"^[0-9]{1,7}$", text):
        raise InvalidName("IRQ %r: not an IRQ number" % (value,))
    return int(text)
