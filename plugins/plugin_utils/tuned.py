# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Translate a Red Hat tuned profile (tuned.conf, with include=) into one of ours.

What has an equivalent is translated: [sysctl], [cpu] governor and
energy_performance_preference, [disk] elevator and readahead (KiB, or
sectors with "s"), [vm] transparent_hugepages, and tuned's ">" ("only
raise"). Everything else (bootloader, scripts, conditional sections, ...)
is listed, directive by directive, as untranslated, so nothing is dropped
silently.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

TUNED_DIRS = ("/etc/tuned", "/usr/lib/tuned")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
CONDITIONS = ("uname_regex", "cpuinfo_regex", "devices", "devices_udev_regex")
BLOCK_CLASSES = ("nvme", "ssd", "hdd", "virtual", "emmc", "sdcard")


class TunedError(ValueError):
    pass


def _parse(path):
    """[(section, [(key, value, line)])] in file order; a section's keys keep their order."""
    sections, current = [], None
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
    except UnicodeDecodeError as exc:
        raise TunedError("%s: not UTF-8 text (%s)" % (path, exc.reason))
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = (line[1:-1].strip(), [])
            sections.append(current)
        elif "=" in line and current is not None:
            key, dummy, value = line.partition("=")
            current[1].append((key.strip(), value.strip(), "%s:%d" % (path, number)))
        else:
            raise TunedError("%s:%d: not a section, a key=value or a comment" % (path, number))
    return sections


def _locate(name, dirs):
    if os.path.isabs(name):
        return name if os.path.isdir(name) or os.path.isfile(name) else None
    for directory in dirs:
        path = os.path.join(directory, name, "tuned.conf")
        if os.path.isfile(path):
            return path
    return None


def _load(name, dirs, seen):
    """The merged sections of a profile and its includes, parents first, as {section: {key: (value, where)}}."""
    path = _locate(name, dirs)
    if path is None:
        raise TunedError("tuned profile %s: not found in %s" % (name, ", ".join(dirs)))
    if os.path.isdir(path):
        path = os.path.join(path, "tuned.conf")
    if path in seen:
        raise TunedError("tuned profile %s: includes itself" % name)
    merged = {}
    sections = _parse(path)
    main = dict((key, value) for section, items in sections if section == "main" for key, value, dummy in items)
    for parent in [item.strip() for item in main.get("include", "").split(",") if item.strip()]:
        for section, items in _load(parent, dirs, seen + (path,)).items():
            merged.setdefault(section, {}).update(items)
    for section, items in sections:
        for key, value, where in items:
            merged.setdefault(section, {})[key] = (value, where)
    return merged


def import_tuned(name, dirs=TUNED_DIRS):
    """(profile, untranslated): our profile as a dict, and one line per tuned directive it could not carry."""
    if not isinstance(name, str) or not name.strip() or "\0" in name:
        raise TunedError("the tuned profile must be a name or a path, not %r" % (name,))
    if isinstance(dirs, str) or not isinstance(dirs, (list, tuple)) or not all(
            isinstance(directory, str) and directory and "\0" not in directory for directory in dirs):
        raise TunedError("the tuned profile directories must be a list of paths, not %r" % (dirs,))
    merged = _load(name, list(dirs), ())
    variables = dict((key, value) for key, (value, dummy) in merged.pop("variables", {}).items())
    main = merged.pop("main", {})
    label = os.path.basename(name.rstrip("/"))
    profile = {"summary": "%s (imported from tuned %s)" % (main.get("summary", ("", ""))[0] or label, label)}
    untranslated = []
    for key, (value, where) in sorted(main.items()):
        if key not in ("summary", "include"):
            untranslated.append("%s: [main] %s=%s" % (where, key, value))
    for section, items in sorted(merged.items()):
        plugin = items.get("type", (section, None))[0]
        conditional = [key for key in CONDITIONS if key in items]
        if conditional:
            untranslated.extend("%s: [%s] %s=%s (the section applies only where %s matches)"
                                % (where, section, key, value, ", ".join(conditional))
                                for key, (value, where) in sorted(items.items()))
            continue
        translate = {"sysctl": _sysctl, "cpu": _cpu, "disk": _disk, "vm": _vm}.get(plugin)
        for key, (value, where) in sorted(items.items()):
            if key == "type":
                continue
            expanded = _expand(value, variables)
            if translate is None or expanded is None or not translate(profile, key, expanded, label):
                untranslated.append("%s: [%s] %s=%s" % (where, section, key, value))
    return profile, untranslated


def _expand(value, variables):
    """${name} from [variables]; None when the value calls tuned functions (${f:...})."""
    if "${f:" in value:
        return None
    try:
        return _VARIABLE.sub(lambda match: variables[match.group(1)], value)
    except KeyError:
        return None


def _reason(label, key, value):
    return "from tuned profile %s: %s=%s" % (label, key, value)


def _sysctl(profile, key, value, label):
    value = value.strip('"').strip("'")
    profile.setdefault("sysctl", {})[key] = {"value": value, "reason": _reason(label, key, value), "risk": "medium"}
    return True


def _cpu(profile, key, value, label):
    if key == "governor":
        profile.setdefault("cpu", {})["governor"] = value.split("|")
        return True
    if key == "energy_performance_preference":
        profile.setdefault("cpu", {})["energy_performance_preference"] = value.split("|")
        return True
    return False


def _vm(profile, key, value, label):
    if key == "transparent_hugepages":
        profile.setdefault("thp", {})["enabled"] = value
        return True
    return False


def _disk(profile, key, value, label):
    block = profile.setdefault("block", {})
    if key == "elevator":
        for klass in BLOCK_CLASSES:
            block.setdefault(klass, {})["scheduler"] = value
        return True
    if key == "readahead":
        match = re.match(r"^(>?)\s*(\d+)\s*(s?)$", value)
        if not match:
            return False
        kib = int(match.group(2)) // 2 if match.group(3) else int(match.group(2))
        for klass in BLOCK_CLASSES:
            block.setdefault(klass, {})["read_ahead_kb"] = "%s%d" % (match.group(1), kib)
        return True
    return False
