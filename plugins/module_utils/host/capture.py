# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record exactly what detection reads into one JSON file, and rebuild a tree from it.

A capture is how a user attaches their host to a bug report and how the unit
tests get real hosts: detection run on the rebuilt tree sees what it saw on
the host. Process names other than the watched daemons, and init's
environment other than container=, are left out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import re

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.environment import WATCHED_PROCESSES
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.kernel import MODULES_OF_INTEREST, module_name
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import COMMANDS_FILE, HostTree

CAPTURE_FORMAT = "hostperf-capture/1"
_PID_PATH = re.compile(r"^/proc/(\d+)(/|$)")
_NAMESPACE_LINK = re.compile(r"^/proc/\d+/ns/[a-z_]+\Z")  # which namespaces the detecting process was in
# Module lists are long; detection only asks them about MODULES_OF_INTEREST.
_MODULE_LISTS = re.compile(r"^(/usr)?/lib/modules/[^/]+/modules\.(dep|builtin)$")
_MAX_LINK_DEPTH = 40


class RecordingHostTree(HostTree):
    """A HostTree that remembers every file, directory, link and command it saw."""

    def __init__(self, root="/", commands=None):
        HostTree.__init__(self, root, commands)
        self.files = {}
        self.binary = {}
        self.links = {}
        self.dirs = set()
        self.commands = {}
        self.modes = {}

    def _note_mode(self, canonical):
        # Read-only sysctls and sysfs attributes are told apart by their mode.
        try:
            mode = os.stat(self.path(canonical)).st_mode & 0o777
        except OSError:
            return
        if mode != 0o644:
            self.modes[canonical] = "%04o" % mode

    def canonical(self, path, depth=0):
        """The host path with every symlink resolved, recording each link met."""
        current = "/"
        for part in [part for part in path.split("/") if part]:
            if part == "..":
                current = os.path.dirname(current)
                continue
            candidate = os.path.join(current, part)
            real = self.path(candidate)
            if os.path.islink(real) and depth < _MAX_LINK_DEPTH:
                target = os.readlink(real)
                self.links[candidate] = target
                if os.path.isabs(target):
                    target = target[len(self.root):] if not self._live and target.startswith(self.root) else target
                    current = self.canonical(target, depth + 1)
                else:
                    current = self.canonical(os.path.normpath(os.path.join(current, target)), depth + 1)
            else:
                current = candidate
        return current

    def read(self, path, default=None, limit=-1):
        canonical = self.canonical(path)
        text = HostTree.read(self, canonical, default=None, limit=limit)
        if text is None:
            return default
        self.files[canonical] = text + "\n"
        self._note_mode(canonical)
        return text

    def read_bytes(self, path):
        canonical = self.canonical(path)
        data = HostTree.read_bytes(self, canonical)
        if data is not None:
            self.binary[canonical] = base64.b64encode(data).decode("ascii")
        return data

    def listdir(self, path):
        canonical = self.canonical(path)
        entries = HostTree.listdir(self, canonical)
        if entries or self.isdir(canonical):
            self.dirs.add(canonical)
        for entry in entries:
            child = os.path.join(canonical, entry)
            real = self.path(child)
            if os.path.islink(real):
                self.links[child] = os.readlink(real)
            elif os.path.isdir(real):
                self.dirs.add(child)
            else:
                self.files.setdefault(child, "")
        return entries

    def exists(self, path):
        if not HostTree.exists(self, path):
            return False
        canonical = self.canonical(path)
        if os.path.isdir(self.path(canonical)):
            self.dirs.add(canonical)
        elif os.path.exists(self.path(canonical)):
            self.files.setdefault(canonical, "")
        return True

    def isdir(self, path):
        found = HostTree.isdir(self, path)
        if found:
            self.dirs.add(self.canonical(path))
        return found

    def readlink(self, path, quiet=False):
        parent, name = os.path.split(path)
        link = os.path.join(self.canonical(parent), name)
        target = HostTree.readlink(self, link, quiet)
        if target is not None:
            self.links[link] = target
        return target

    def resolve(self, path):
        self.canonical(path)
        return HostTree.resolve(self, path)

    def run(self, argv):
        result = HostTree.run(self, argv)
        self.commands[" ".join(argv)] = result.to_dict()
        return result

    def export(self, meta=None):
        """The capture as a JSON-serialisable dict, private process data removed."""
        kept_pids = set()
        for path, text in self.files.items():
            match = _PID_PATH.match(path)
            if match and path.endswith("/comm") and text.strip() in WATCHED_PROCESSES:
                kept_pids.add(match.group(1))
        kept_pids.add("1")

        def public(path):
            match = _PID_PATH.match(path)
            return not match or match.group(1) in kept_pids or bool(_NAMESPACE_LINK.match(path))

        files = {path: text for path, text in self.files.items() if public(path)}
        for path, text in files.items():
            if _MODULE_LISTS.match(path):
                files[path] = "".join(line + "\n" for line in text.splitlines()
                                      if module_name(line) in MODULES_OF_INTEREST)
        if "/proc/1/environ" in files:
            files["/proc/1/environ"] = "\0".join(
                item for item in files["/proc/1/environ"].split("\0") if item.startswith("container="))
        return {
            "format": CAPTURE_FORMAT,
            "meta": meta or {},
            "dirs": sorted(path for path in self.dirs if public(path)),
            "files": dict(sorted(files.items())),
            "binary": dict(sorted(self.binary.items())),
            "links": dict(sorted((path, target) for path, target in self.links.items() if public(path))),
            "commands": dict(sorted(self.commands.items())),
            "modes": dict(sorted((path, mode) for path, mode in self.modes.items() if path in files)),
        }


def write_capture(capture, path):
    """Write a capture readable by root only: it describes the host in detail."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(capture, handle, indent=1, sort_keys=True)
        handle.write("\n")
    os.chmod(path, 0o600)


def materialize(capture, dest):
    """Rebuild the tree a capture describes under dest; returns dest."""
    if capture.get("format") != CAPTURE_FORMAT:
        raise ValueError("not a %s capture: format %r" % (CAPTURE_FORMAT, capture.get("format")))

    def local(path):
        return os.path.join(dest, path.lstrip("/"))

    for path in capture.get("dirs", []):
        os.makedirs(local(path), exist_ok=True)
    for path, target in capture.get("links", {}).items():
        where = local(path)
        os.makedirs(os.path.dirname(where), exist_ok=True)
        if os.path.isabs(target):
            target = os.path.relpath(local(target), os.path.dirname(where))
        if not os.path.lexists(where):
            os.symlink(target, where)
    for path, text in capture.get("files", {}).items():
        where = local(path)
        os.makedirs(os.path.dirname(where), exist_ok=True)
        with open(where, "w") as handle:
            handle.write(text)
    for path, mode in capture.get("modes", {}).items():
        os.chmod(local(path), int(mode, 8))
    for path, data in capture.get("binary", {}).items():
        where = local(path)
        os.makedirs(os.path.dirname(where), exist_ok=True)
        with open(where, "wb") as handle:
            handle.write(base64.b64decode(data))
    with open(os.path.join(dest, COMMANDS_FILE), "w") as handle:
        json.dump(capture.get("commands", {}), handle)
    return dest
