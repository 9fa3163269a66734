# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The journal on each host: what every transaction changed, written before it changes anything.

One JSON file per transaction under the journal directory, replaced
atomically (write, fsync, rename, fsync the directory), mode 0600, and an
exclusive lock so two runs on one host never interleave.

Rollback writes, as root, whatever a record names, so nothing in the journal
is trusted on sight: the directory and every record must be this user's own
and writable by nobody else, records are opened without following links and
must have the shape this module writes (docs/engine.md, threat model).
Records are ordered by a sequence number taken under the lock, never by the
clock, which may step back between two runs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import fcntl
import json
import os
import re
import stat
import time

from ansible_collections.hostperf.tuning.plugins.module_utils.host.files import atomic_write, sweep_temporary, written_by

DEFAULT_DIRECTORY = "/var/lib/hostperf"
PENDING, COMMITTED, ROLLED_BACK, INCOMPLETE = "pending", "committed", "rolled_back", "rollback_incomplete"
# Committed, and being measured in pairs: its live values may be either side until the trials end (engine/switch.py).
TRIAL = "on_trial"
# A rollback began and has not finished: its values may be either side (a killed rollback leaves this).
ROLLING_BACK = "rolling_back"
STATES = (PENDING, COMMITTED, ROLLED_BACK, INCOMPLETE, TRIAL, ROLLING_BACK)
UNFINISHED = (PENDING, INCOMPLETE, TRIAL, ROLLING_BACK)
_TRANSACTION_FILE = re.compile(r"^(\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{8})\.json$")
MAX_RECORD_BYTES = 64 * 1024 * 1024
# The kernel's id of this boot: a record made in another boot was made before a reboot, whatever the clock says.
BOOT_ID = "/proc/sys/kernel/random/boot_id"
VOLATILE = ("proc", "sys", "dev", "run")


class JournalError(Exception):
    pass


class Journal:
    def __init__(self, tree, directory=DEFAULT_DIRECTORY):
        self.tree = tree
        self.directory = directory
        self.transactions_dir = directory.rstrip("/") + "/transactions"
        self.state_path = directory.rstrip("/") + "/state.json"
        self._lock_fd = None
        self._euid = os.geteuid()

    # -- the directory -----------------------------------------------------
    def _check_path(self):
        """JournalError unless every existing part of journal_dir is a real directory only this user may change.

        Returns the host paths of journal_dir and its parents that do not exist yet, outermost first.
        """
        path = self.directory
        if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
            raise JournalError("journal_dir %r: must be an absolute path" % (path,))
        parts = [part for part in path.split("/") if part]
        if not parts or any(part in (".", "..") for part in parts):
            raise JournalError("journal_dir %r: must name a directory of its own below / without . or .." % (path,))
        if parts[0] in VOLATILE:
            raise JournalError("journal_dir %s: /%s is a kernel or memory filesystem; the journal must survive a "
                               "reboot to put the host back" % (path, parts[0]))
        missing, current = [], ""
        for index, part in enumerate(parts):
            current += "/" + part
            try:
                info = os.lstat(self.tree.path(current))
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise JournalError("journal_dir %s: %s: %s" % (path, current, exc.strerror))
                missing.append(current)
                continue
            if missing:
                raise JournalError("journal_dir %s: %s exists below a missing directory" % (path, current))
            self._check_directory(current, info, own=index == len(parts) - 1)
        return missing

    def _check_directory(self, path, info, own):
        where = "journal_dir %s: %s" % (self.directory, path)
        if stat.S_ISLNK(info.st_mode):
            raise JournalError("%s is a symbolic link; the journal must be a real directory path" % where)
        if not stat.S_ISDIR(info.st_mode):
            raise JournalError("%s is not a directory" % where)
        if info.st_uid not in (0, self._euid) or (own and info.st_uid != self._euid):
            raise JournalError("%s is owned by uid %d, not by this user (uid %d): another user could forge "
                               "what a rollback writes" % (where, info.st_uid, self._euid))
        # A parent others may write is safe only when sticky (/tmp): they cannot rename or remove our entry.
        if info.st_mode & 0o022 and (own or not info.st_mode & stat.S_ISVTX):
            raise JournalError("%s is writable by group or others (mode %04o): another user could forge what a "
                               "rollback writes" % (where, info.st_mode & 0o7777))

    def _ensure(self):
        """Make the directories that are missing, mode 0700; never chmod one that was already there."""
        for directory in self._check_path() + [self.transactions_dir]:
            real = self.tree.path(directory)
            try:
                os.mkdir(real, 0o700)
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise JournalError("journal_dir %s: cannot create %s: %s"
                                       % (self.directory, directory, exc.strerror))
                self._check_directory(directory, os.lstat(real), own=True)
                continue
            os.chmod(real, 0o700)  # ours, just made: umask does not decide its mode

    def exists(self):
        """Whether a journal is here (its transactions directory), not only a directory of that name."""
        return os.path.lexists(self.tree.path(self.transactions_dir))

    def check_writable(self):
        """Fail before any change when this process could not write the journal (not root, say)."""
        missing = self._check_path()
        existing = os.path.dirname(missing[0]) if missing else self.directory
        if not os.access(self.tree.path(existing or "/"), os.W_OK | os.X_OK):
            raise JournalError("journal_dir %s: %s is not writable by uid %d; tuning needs root (become: true)"
                               % (self.directory, existing or "/", self._euid))

    def lock(self, timeout=30.0, create=True):
        """Hold the host's lock; another run waits up to timeout, then fails clearly.

        create=False (check mode) writes nothing: it takes a shared lock on an existing lock file, or none.
        """
        self.check_writable()
        path = self.tree.path(self.directory.rstrip("/") + "/lock")
        if create:
            self._ensure()
            fd = _open_own(path, os.O_RDWR | os.O_CREAT, self._euid)
        elif os.path.lexists(path):
            fd = _open_own(path, os.O_RDONLY, self._euid)
        else:
            return self
        mode = fcntl.LOCK_EX if create else fcntl.LOCK_SH
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() >= deadline:
                    os.close(fd)
                    raise JournalError("another hostperf.tuning run holds %s (waited %.0f s)" % (path, timeout))
                time.sleep(0.1)
        self._lock_fd = fd
        if create:
            self._sweep()
        return self

    def unlock(self):
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.unlock()

    def _sweep(self):
        """Remove what a run killed inside a save left: only our own temporaries, named as files.py names them."""
        for name in self.tree.listdir(self.transactions_dir):
            if _TRANSACTION_FILE.match(written_by(name) or ""):
                sweep_temporary(self.tree, "%s/%s" % (self.transactions_dir, written_by(name)))
        sweep_temporary(self.tree, self.state_path)

    # -- records -----------------------------------------------------------
    def new(self, label=None):
        """A pending record, numbered after every record on the host (call under the lock)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        ident = "%s-%s" % (now.strftime("%Y%m%dT%H%M%S.%fZ"), os.urandom(4).hex())
        sequence = max([record.get("sequence", 0) for record in self.transactions()] + [0]) + 1
        return {"id": ident, "sequence": sequence, "label": label, "created": now.isoformat(), "state": PENDING,
                "boot": current_boot(self.tree), "settings": [], "files": [], "events": []}

    def save(self, record):
        """Replace the record on disk; JournalError (the disk is full, say) leaves the previous version whole."""
        record["updated"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
        data = json.dumps(record, indent=1, sort_keys=True).encode("utf-8") + b"\n"
        try:
            self._ensure()
            atomic_write(self.tree, "%s/%s.json" % (self.transactions_dir, record["id"]), data, mode=0o600)
        except OSError as exc:
            raise JournalError("cannot save journal record %s in %s: %s" % (
                record["id"], self.transactions_dir, exc.strerror or exc))

    def transactions(self):
        """Every transaction, in the order they were made; a record that is not ours or not well formed fails."""
        records = []
        for name in self.tree.listdir(self.transactions_dir):
            match = _TRANSACTION_FILE.match(name)
            if not match:
                continue
            path = "%s/%s" % (self.transactions_dir, name)
            record = self._read_json(path)
            problem = record_problem(record, match.group(1))
            if problem:
                raise JournalError("journal record %s is not one this collection wrote: %s" % (path, problem))
            records.append(record)
        # Records from before sequence numbers (0) came first, in the order of their ids.
        return sorted(records, key=lambda record: (record.get("sequence", 0), record["id"]))

    def interrupted(self):
        return [record for record in self.transactions() if record["state"] in UNFINISHED]

    def load_state(self):
        """The settings the collection manages on this host: {identity: {value, data}}; {} before the first tune.

        A state file that is damaged fails: reading it as empty would drop every earlier setting from the files.
        """
        if not os.path.lexists(self.tree.path(self.state_path)):
            return {}
        state = self._read_json(self.state_path)
        settings = state.get("settings") if isinstance(state, dict) else None
        if not isinstance(settings, dict) or not all(
                isinstance(entry, dict) and "value" in entry and isinstance(entry.get("data", {}), dict)
                for entry in settings.values()):
            raise JournalError("%s is not the state this collection writes ({settings: {identity: {value, data}}}); "
                               "restore it from its transaction records or remove it knowingly" % self.state_path)
        return settings

    def _read_json(self, path):
        real = self.tree.path(path)
        try:
            fd = _open_own(real, os.O_RDONLY, self._euid)
        except OSError as exc:
            raise JournalError("journal file %s cannot be opened: %s" % (path, exc.strerror or exc))
        try:
            with os.fdopen(fd, "rb") as handle:
                data = handle.read(MAX_RECORD_BYTES + 1)
        except OSError as exc:
            raise JournalError("journal file %s is unreadable: %s" % (path, exc.strerror or exc))
        if len(data) > MAX_RECORD_BYTES:
            raise JournalError("journal file %s is larger than %d bytes" % (path, MAX_RECORD_BYTES))
        try:
            return json.loads(data.decode("utf-8"))
        except ValueError as exc:
            raise JournalError("journal file %s is damaged (not JSON: %s)" % (path, exc))


def current_boot(tree):
    """This boot's id, or None where the kernel does not say (a fixture root)."""
    return tree.read(BOOT_ID) or None


def _open_own(real, flags, euid):
    """Open a journal file without following a link; OSError unless it is a regular file of ours only we write."""
    fd = os.open(real, flags | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), 0o600)
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "not a regular file"
    elif info.st_uid != euid:
        problem = "owned by uid %d, not by this user (uid %d)" % (info.st_uid, euid)
    elif info.st_mode & 0o022:
        problem = "writable by group or others (mode %04o)" % (info.st_mode & 0o7777)
    if problem:
        os.close(fd)
        raise OSError(errno.EPERM, problem, real)
    return fd


def record_problem(record, ident):
    """What makes record not the shape Journal writes, or None."""
    if not isinstance(record, dict):
        return "not an object"
    if record.get("id") != ident:
        return "its id %r is not its file name" % (record.get("id"),)
    if record.get("state") not in STATES:
        return "state %r is none of %s" % (record.get("state"), ", ".join(STATES))
    sequence = record.get("sequence", 0)
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
        return "sequence %r is not a non-negative integer" % (sequence,)
    if not isinstance(record.get("events", []), list) or not all(
            isinstance(record.get(key), (str, type(None))) for key in ("label", "boot")):
        return "events, label or boot of the wrong type"
    settings = record.get("settings")
    if not isinstance(settings, list) or not all(
            isinstance(item, dict) and isinstance(item.get("identity"), str) and "before" in item and "after" in item
            and isinstance(item.get("where"), (str, type(None))) for item in settings):
        return "settings must be a list of {identity, before, after[, where: a name]}"
    snapshots = record.get("files")
    if not isinstance(snapshots, list):
        return "files must be a list of snapshots"
    for snap in snapshots:
        problem = snapshot_problem(snap)
        if problem:
            return "files: %s" % problem
    return None


def snapshot_problem(snap):
    if not isinstance(snap, dict) or not isinstance(snap.get("path"), str):
        return "a snapshot without a path"
    path = snap["path"]
    if not path.startswith("/") or "\0" in path or os.path.normpath(path) != path:
        return "path %r is not a normalised absolute path" % (path,)
    if not isinstance(snap.get("existed"), bool):
        return "%s: existed must be true or false" % path
    if not snap["existed"]:
        dirs = snap.get("missing_dirs", [])
        if not isinstance(dirs, list) or not all(
                isinstance(d, str) and path.startswith(d.rstrip("/") + "/") for d in dirs):
            return "%s: missing_dirs must be parents of the path" % path
        return None
    ints = [snap.get(key) for key in ("uid", "gid")] + ([] if "link" in snap else [snap.get("mode")])
    if not all(isinstance(value, int) and not isinstance(value, bool) and value >= 0 for value in ints):
        return "%s: mode, uid and gid must be non-negative integers" % path
    if "link" in snap:
        return None if isinstance(snap["link"], str) and snap["link"] and "\0" not in snap["link"] else (
            "%s: link must be a non-empty target" % path)
    if snap["mode"] > 0o7777 or not isinstance(snap.get("content"), str):
        return "%s: mode must be at most 07777 and content base64 text" % path
    return None
