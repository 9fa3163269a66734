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

from ansible_collections.hostperf.tuning.plugins.plugin_utils.recommend import NEVER_AUTOMATIC, RULES

from ansible_collections.hostperf.tuning.plugins.module_utils.host.names import InvalidName, sysctl_key
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.plan import (
    AMOUNT, CHOICES, FLAG, POSITIVE, RISKS, SHARE, TEXT)
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.planner import PROFILE_SECTIONS

COLLECTION_PROFILES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                   "profiles")
SECTIONS = ("summary", "extends", "sysctl") + tuple(section.name for section in PROFILE_SECTIONS)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


MAX_PROFILE_BYTES = 1024 * 1024


class ProfileError(ValueError):
    pass


class _ProfileLoader(yaml.SafeLoader):
    """Safe YAML without aliases: a profile has no use for them, and nine nested ones are 9**9 items to plan."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError("%s: aliases (*%s) are not allowed in a profile; use extends to share sections"
                                 % (event.start_mark, event.anchor))
        return yaml.SafeLoader.compose_node(self, parent, index)


def read_profile_file(path):
    """The profile file's data, or ProfileError: at most 1 MiB of alias-free YAML."""
    try:
        with open(path, "rb") as handle:
            text = handle.read(MAX_PROFILE_BYTES + 1)
    except OSError as exc:
        raise ProfileError("profile %s: cannot be read: %s" % (path, exc.strerror or exc))
    if len(text) > MAX_PROFILE_BYTES:
        raise ProfileError("profile %s: larger than %d bytes" % (path, MAX_PROFILE_BYTES))
    try:
        return yaml.load(text, Loader=_ProfileLoader) or {}  # nosec: a SafeLoader
    except yaml.YAMLError as exc:
        raise ProfileError("profile %s: %s" % (path, exc))


AUTOMATIC = "auto"  # hostperf_profile: auto chooses from the facts (plugin_utils/recommend.py)


def profile_paths(extra=()):
    """The directories searched for profiles: the user's (hostperf_profile_paths) before the collection's."""
    extra = [extra] if isinstance(extra, str) else extra or []
    usable = isinstance(extra, (list, tuple)) and all(
        isinstance(path, str) and path.strip() and "\0" not in path for path in extra)
    if not usable:
        raise ProfileError("profile paths (hostperf_profile_paths) must be a list of directories, not %r" % (extra,))
    return [os.path.expanduser(path) for path in extra] + [COLLECTION_PROFILES]


def available_profiles(extra=()):
    return sorted(_profile_files(extra))


def _profile_files(extra=()):
    """{name: path} of the first NAME.yml regular file each name finds; a directory that cannot be listed is
    passed over, as the planner's search passes over a missing one."""
    found = {}
    for directory in profile_paths(extra):
        try:
            entries = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(directory, entry)
            if entry.endswith(".yml") and os.path.isfile(path):
                found.setdefault(entry[:-4], path)
    return found


def profile_listing(extra=()):
    """[{name, summary, extends, path, automatic[, error]}] of every profile a name finds, for the operator."""
    automatic = set(name for name, _rule, _meaning in RULES)
    listing = []
    for name, path in sorted(_profile_files(extra).items()):
        entry = {"name": name, "path": path, "summary": None, "extends": None, "automatic": name in automatic}
        if name in NEVER_AUTOMATIC:
            entry["automatic_note"] = NEVER_AUTOMATIC[name]
        try:
            entry["summary"] = load_profile(name, extra).get("summary")
            entry["extends"] = read_profile_file(path).get("extends")
        except ProfileError as exc:
            entry["error"] = str(exc)
        entry["line"] = "%s: %s%s" % (name, entry.get("error") or entry["summary"] or "(no summary)", "" if entry[
            "automatic"] else " [%s]" % entry.get("automatic_note", "by name only"))
        listing.append(entry)
    return listing


def load_profile(name, extra=(), _seen=()):
    """The profile with every profile it extends merged in."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ProfileError("profile %r: not a profile name" % (name,))
    if name == AUTOMATIC:
        raise ProfileError("profile %s: not a file's name but the one that chooses a profile from the host's facts "
                           "(a profile cannot extend it, and a file %s.yml is never read)" % (name, name))
    if name in _seen:
        raise ProfileError("profile %s: extends itself through %s" % (name, " -> ".join(_seen + (name,))))
    for directory in profile_paths(extra):
        path = os.path.join(directory, name + ".yml")
        if os.path.isfile(path):
            data = read_profile_file(path)
            break
    else:
        raise ProfileError("profile %s: not found (available: %s)" % (name, ", ".join(available_profiles(extra))))
    if not isinstance(data, dict):
        raise ProfileError("profile %s: must be a mapping of sections" % name)
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ProfileError("profile %s: unknown section(s) %s (known: %s)"
                           % (name, ", ".join(unknown), ", ".join(SECTIONS)))
    problems = check_profile(data)
    if problems:
        raise ProfileError("profile %s (%s): %s" % (name, path, "; ".join(problems)))
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
        elif isinstance(value, dict):
            # A null nested in a section the parent lacks removes nothing; it must not reach the rules either.
            result[key] = merge(result[key] if isinstance(result.get(key), dict) else {}, value)
        else:
            result[key] = value
    return result


# -- what each section may hold ----------------------------------------------------
# Each rule declares the shape of its section (module_utils/rules); sysctl, keyed by sysctl names, is checked here.
SHAPES = dict((section.name, section.shape) for section in PROFILE_SECTIONS)


def check_profile(data):
    """Every misplaced key or mistyped value of one profile file, named by its path (tcp_buffers.target_rtt_ms).

    null is always allowed: it removes what a parent profile set.
    """
    problems = []
    for field in ("summary", "extends"):
        if data.get(field) is not None and not isinstance(data[field], str):
            problems.append("%s: %r is not text" % (field, data[field]))
    for key, spec in _mapping(data, "sysctl", problems):
        where = "sysctl.%s" % key
        try:
            sysctl_key(key)
        except InvalidName as exc:
            problems.append("%s: %s" % (where, exc))
        if spec is None:
            continue
        if not isinstance(spec, dict) or "value" not in spec:
            problems.append("%s: must be a mapping with value, reason and risk, not %r" % (where, spec))
            continue
        unknown = sorted(set(spec) - {"value", "reason", "risk"})
        if unknown:
            problems.append("%s: unknown key(s) %s (known: value, reason, risk)" % (where, ", ".join(unknown)))
        if isinstance(spec["value"], dict) or spec["value"] is None:
            problems.append("%s.value: %r is not a number, text or list" % (where, spec["value"]))
        if spec.get("risk") not in (None,) + RISKS:
            problems.append("%s.risk: %r must be one of %s" % (where, spec.get("risk"), ", ".join(RISKS)))
    for section, shape in SHAPES.items():
        if data.get(section) is not None:
            problems.extend(_shaped(section, data[section], shape))
    return problems


def _mapping(data, section, problems):
    value = data.get(section)
    if value is None:
        return []
    if not isinstance(value, dict):
        problems.append("%s: must be a mapping, not %r" % (section, value))
        return []
    return sorted(value.items(), key=lambda item: str(item[0]))


def _shaped(where, value, shape):
    if not isinstance(value, dict):
        return ["%s: must be a mapping, not %r" % (where, value)]
    problems = []
    for key, item in sorted(value.items(), key=lambda pair: str(pair[0])):
        kind = shape.get(key, shape.get("*"))
        path = "%s.%s" % (where, key)
        if kind is None:
            problems.append("%s: unknown key (known: %s)" % (path, ", ".join(sorted(shape))))
        elif item is None:
            continue
        elif isinstance(kind, dict):
            problems.extend(_shaped(path, item, kind))
        else:
            problem = _typed(item, kind)
            if problem:
                problems.append("%s: %r %s" % (path, item, problem))
    return problems


def _typed(value, kind):
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == POSITIVE and not (number and value > 0):
        return "is not a positive number"
    if kind == SHARE and not (number and 0 < value <= 1):
        return "is not a fraction between 0 and 1"
    if kind == FLAG and not isinstance(value, bool):
        return "is not true or false"
    if kind == TEXT and not isinstance(value, str):
        return "is not text"
    if kind == AMOUNT and not (number or isinstance(value, str)):
        return "is not a number or text"
    if kind == CHOICES and not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
        return "is not a list of names"
    return None
