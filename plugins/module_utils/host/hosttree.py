# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a host's /sys and /proc through one root, so tests can use a fixture tree.

Every read that fails is recorded as a problem instead of raising: a detector
that meets a vanished device or an unreadable attribute keeps going, and the
facts say what was missing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import subprocess

COMMANDS_FILE = ".hostperf-commands.json"
_CHUNK = 65536

# Absent files are normal in sysfs (a feature the kernel lacks); only these
# errors mean something was there and could not be read.
_QUIET_ERRNOS = (errno.ENOENT, errno.ENOTDIR)


class CommandResult:
    """What a helper command printed, or why it could not run."""

    def __init__(self, rc, stdout="", stderr="", missing=False):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.missing = missing

    @property
    def ok(self):
        return self.rc == 0 and not self.missing

    def to_dict(self):
        return {"rc": self.rc, "stdout": self.stdout, "stderr": self.stderr, "missing": self.missing}

    @classmethod
    def from_dict(cls, data):
        return cls(data.get("rc", 0), data.get("stdout", ""), data.get("stderr", ""), data.get("missing", False))


class HostTree:
    """A host seen through a root directory ("/" for the live host)."""

    def __init__(self, root="/", commands=None):
        self.root = os.path.abspath(root)
        self._prefix = "" if self.root == "/" else self.root
        self.problems = []
        self._live = self.root == "/"
        self._commands = commands
        self._recorded = None
        if not self._live:
            self._recorded = self._load_recorded_commands()

    def path(self, path):
        """The real filesystem path of a host path such as '/sys/block'."""
        if self._live:
            return path
        return self._prefix + path

    def problem(self, path, reason):
        self.problems.append({"path": path, "error": reason})

    def _failed(self, path, exc):
        if getattr(exc, "errno", None) not in _QUIET_ERRNOS:
            self.problem(path, "%s: %s" % (type(exc).__name__, exc.strerror or exc))

    def read(self, path, default=None, limit=-1):
        """The file's text without the trailing newline, or default."""
        data = self._read_raw(path, limit)
        if data is None:
            return default
        return data.decode("utf-8", "replace").rstrip("\n")

    def _read_raw(self, path, limit=-1):
        # os.open/os.read: a big host has ~25,000 small sysfs files, and the
        # buffered text layer costs four times as much per file.
        try:
            fd = os.open(self.path(path), os.O_RDONLY)
        except OSError as exc:
            self._failed(path, exc)
            return None
        try:
            chunks = []
            remaining = limit if limit >= 0 else -1
            while remaining != 0:
                wanted = _CHUNK if remaining < 0 else min(remaining, _CHUNK)
                chunk = os.read(fd, wanted)
                if not chunk:
                    break
                chunks.append(chunk)
                if remaining > 0:
                    remaining -= len(chunk)
                if len(chunk) < wanted:
                    # sysfs attributes, seq_files (which fill the buffer
                    # until their last record) and regular files all end
                    # on a short read: skip the extra read that proves it.
                    break
            return b"".join(chunks)
        except OSError as exc:
            self._failed(path, exc)
            return None
        finally:
            os.close(fd)

    def read_bytes(self, path):
        """The file's raw bytes (compressed files such as /proc/config.gz), or None."""
        return self._read_raw(path)

    def read_int(self, path, default=None):
        text = self.read(path)
        if text is None:
            return default
        try:
            return int(text.strip())
        except ValueError:
            self.problem(path, "not an integer: %r" % text[:80])
            return default

    def listdir(self, path):
        """Sorted entries of a directory, or [] when it is absent."""
        try:
            return sorted(os.listdir(self.path(path)))
        except OSError as exc:
            self._failed(path, exc)
            return []

    def exists(self, path):
        return os.path.lexists(self.path(path))

    def isdir(self, path):
        return os.path.isdir(self.path(path))

    def runs_systemd(self):
        """Whether systemd is the init of this host (sd_booted's test), so systemctl can be asked."""
        return self.isdir("/run/systemd/system")

    def readlink(self, path, quiet=False):
        """The symlink's target as stored, or None; quiet: a link one may not read is no problem (evidence that
        may be missing)."""
        try:
            return os.readlink(self.path(path))
        except OSError as exc:
            if exc.errno != errno.EINVAL and not quiet:
                self._failed(path, exc)
            return None

    def resolve(self, path):
        """The host path a (symlinked) host path leads to, inside the root."""
        real = os.path.realpath(self.path(path))
        if self._live:
            return real
        if real == self.root:
            return "/"
        if real.startswith(self.root + os.sep):
            return real[len(self.root):]
        return None

    def write(self, path, value):
        """Write a kernel attribute; the kernel's refusal (EINVAL, EBUSY, ...) is raised."""
        fd = os.open(self.path(path), os.O_WRONLY)
        try:
            os.write(fd, value.encode("utf-8"))
        finally:
            os.close(fd)

    def set_affinity(self, task, cpus):
        """Pin a running task (a thread id) to CPUs; ESRCH when it is gone."""
        if not self._live:
            raise OSError(errno.EOPNOTSUPP, "tasks can only be pinned on the live host", "/proc/%s" % task)
        os.sched_setaffinity(int(task), cpus)

    def run(self, argv, timeout=10):
        """Run a helper (ethtool, modprobe, a benchmark) on the live host, or replay what a capture recorded."""
        if self._commands is not None:
            return self._commands(argv)
        if self._recorded is not None:
            data = self._recorded.get(" ".join(argv))
            if data is None:
                return CommandResult(127, stderr="not recorded in this capture", missing=True)
            return CommandResult.from_dict(data)
        return self._execute(argv, timeout)

    def run_checked(self, argv):
        """run, for a command that changes something: OSError with the command's own answer when it fails."""
        result = self.run(argv)
        if not result.ok:
            raise OSError("%s: %s" % (" ".join(argv), (result.stderr or result.stdout).strip() or "rc %d" % result.rc))
        return result

    def _execute(self, argv, timeout):
        program = find_program(argv[0])
        if program is None:
            return CommandResult(127, stderr="%s not found" % argv[0], missing=True)
        try:
            proc = subprocess.run([program] + list(argv[1:]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True, timeout=timeout, check=False,
                                  env=dict(os.environ, LC_ALL="C"))
        except (OSError, subprocess.SubprocessError) as exc:
            return CommandResult(126, stderr=str(exc))
        return CommandResult(proc.returncode, proc.stdout, proc.stderr)

    def _load_recorded_commands(self):
        try:
            with open(os.path.join(self.root, COMMANDS_FILE)) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}


def find_program(name):
    """Ansible may run modules with a PATH that lacks the sbin directories."""
    dirs = os.environ.get("PATH", "").split(os.pathsep) + ["/usr/local/sbin", "/usr/sbin", "/sbin"]
    for directory in dirs:
        candidate = os.path.join(directory, name)
        if directory and os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None
