# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NIC settings NetworkManager's connection profiles set, by interface: it applies them on every activation.

A keyfile connection (nm-settings-keyfile(5)) sets ethtool values in its
[ethtool] section (ring-rx, channels-combined, coalesce-rx-usecs,
feature-gro, ...) and the MTU in [ethernet]; NetworkManager writes them when
it activates the connection (at boot, on reconnect, after a link flap), after
udev applied ours. A profile names its device by interface-name or by the
MAC address in [ethernet] mac-address.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import configparser

CONNECTION_DIRS = ("/etc/NetworkManager/system-connections", "/run/NetworkManager/system-connections",
                   "/usr/lib/NetworkManager/system-connections")
# NetworkManager's ethtool key prefixes, and the nic setting each is (nic:IF:<setting>:<parameter>).
_PREFIXES = (("ring-", "rings"), ("channels-", "channels"), ("coalesce-", "coalesce"), ("feature-", "features"))


def _addresses(tree):
    """{MAC in lower case: interface} of the interfaces this host has."""
    found = {}
    for name in tree.listdir("/sys/class/net"):
        for attribute in ("address", "bonding_slave/perm_hwaddr"):
            address = (tree.read("/sys/class/net/%s/%s" % (name, attribute)) or "").strip().lower()
            if address:
                found.setdefault(address, name)
    return found


def _settings(parser):
    """{"rings:rx": "4096", "features:gro": "false", "mtu": "9000"} of one profile."""
    settings = {}
    if parser.has_section("ethtool"):
        for key, value in parser.items("ethtool"):
            for prefix, setting in _PREFIXES:
                if key.startswith(prefix) and len(key) > len(prefix):
                    settings["%s:%s" % (setting, key[len(prefix):])] = value.strip()
    mtu = parser.get("ethernet", "mtu", fallback=None)
    if mtu and mtu.strip() not in ("0", "auto"):
        settings["mtu"] = mtu.strip()
    return settings


def connection_settings(tree):
    """{interface: [{"file", "settings"}]} of the profiles that set NIC values, in the order NetworkManager's
    directories rank them (a file in /etc hides the same name in /run and /usr/lib)."""
    addresses, seen, found = None, set(), {}
    for directory in CONNECTION_DIRS:
        for name in sorted(tree.listdir(directory)):
            if not name.endswith(".nmconnection") or name in seen:
                continue
            seen.add(name)
            path = "%s/%s" % (directory, name)
            parser = configparser.ConfigParser(interpolation=None, strict=False)
            try:
                parser.read_string(tree.read(path) or "", source=path)
            except configparser.Error as exc:
                tree.problem(path, "not a keyfile connection: %s" % str(exc).splitlines()[0])
                continue
            settings = _settings(parser)
            if not settings or parser.get("connection", "autoconnect", fallback="true").strip() == "false":
                continue
            interface = parser.get("connection", "interface-name", fallback="").strip()
            if not interface:
                if addresses is None:
                    addresses = _addresses(tree)
                interface = addresses.get(parser.get("ethernet", "mac-address", fallback="").strip().lower())
            if interface:
                found.setdefault(interface, []).append({"file": path, "settings": settings})
    return found
