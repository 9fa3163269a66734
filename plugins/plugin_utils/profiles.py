# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Profiles are YAML data: found by name in the user's directories, then the collection's.

A profile can extend another; the child's sections are merged into the
parent's key by key, and a key set to null removes what the parent set
(virtual-guest switches the CPU section off that way).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import yaml

COLLECTION_PROFILES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                   "profiles")
SECTIONS = ("summary", "extends", "sysctl", "tcp_buffers", "backlog", "congestion_control", "block", "nic", "cpu")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ProfileError(ValueError):
    pass


def profile_paths(extra=()):
    return [os.path.expanduser(path) for path in extra or ()] + [COLLECTION_PROFILES]


def available_profiles(extra=()):
    names = set()
    for directory in profile_paths(extra):
        if os.path.isdir(directory):
            names.update(entry[:-4] for entry in os.listdir(directory) if entry.endswith(".yml"))
    return sorted(names)


def load_profile(name, extra=(), _seen=()):
    """The profile with every profile it extends merged in."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ProfileError("profile %r: not a profile name" % (name,))
    if name in _seen:
        raise ProfileError("profile %s: extends itself through %s" % (name, " -> ".join(_seen + (name,))))
    for directory in profile_paths(extra):
        path = os.path.join(directory, name + ".yml")
        if os.path.isfile(path):
            with open(path) as handle:
                data = yaml.safe_load(handle) or {}
            break
    else:
        raise ProfileError("profile %s: not found (available: %s)" % (name, ", ".join(available_profiles(extra))))
    if not isinstance(data, dict):
        raise ProfileError("profile %s: must be a mapping of sections" % name)
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ProfileError("profile %s: unknown section(s) %s (known: %s)"
                           % (name, ", ".join(unknown), ", ".join(SECTIONS)))
    parent = data.get("extends")
    base = load_profile(parent, extra, _seen + (name,)) if parent else {}
    merged = merge(base, data)
    merged.pop("extends", None)
    return merged


def merge(base, override):
    """override merged into base, recursively; None removes the key."""
    result = dict(base)
    for key, value in override.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result
