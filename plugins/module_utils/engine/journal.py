# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The journal on each host: what every transaction changed, written before it changes anything.

One JSON file per transaction under the journal directory, replaced
atomically (write, fsync, rename, fsync the directory), mode 0600, and an
exclusive lock so two runs on one host never interleave.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import fcntl
import json
import os
import re
import time

from ansible_collections.hostperf.tuning.plugins.module_utils.host.files import atomic_write

DEFAULT_DIRECTORY = "/var/lib/hostperf"
PENDING, COMMITTED, ROLLED_BACK, INCOMPLETE = "pending", "committed", "rolled_back", "rollback_incomplete"
# Committed, and being measured in pairs: its live values may be either side until the trials end (engine/switch.py).
TRIAL = "on_trial"
_TRANSACTION_FILE = re.compile(r"^(\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{8})\.json$")


class JournalError(Exception):
    pass


class Journal:
    def __init__(self, tree, directory=DEFAULT_DIRECTORY):
        self.tree = tree
        self.directory = directory
        self.transactions_dir = directory.rstrip("/") + "/transactions"
        self.state_path = directory.rstrip("/") + "/state.json"
        self._lock_fd = None

    def _ensure(self):
        for directory in (self.directory, self.transactions_dir):
            real = self.tree.path(directory)
            if not os.path.isdir(real):
                os.makedirs(real, 0o700)
            os.chmod(real, 0o700)

    def check_writable(self):
        """Fail before any change when this process could not write the journal (not root, say)."""
        real = self.tree.path(self.directory)
        existing = real
        while not os.path.lexists(existing) and os.path.dirname(existing) != existing:
            existing = os.path.dirname(existing)
        if os.path.lexists(existing) and not os.path.isdir(existing):
            raise JournalError("journal_dir %s: %s is not a directory" % (self.directory, existing))
        if not os.access(existing, os.W_OK | os.X_OK):
            raise JournalError("journal_dir %s: %s is not writable by uid %d; tuning needs root (become: true)"
                               % (self.directory, existing, os.geteuid()))

    def lock(self, timeout=30.0, create=True):
        """Hold the host's lock; another run waits up to timeout, then fails clearly.

        create=False (check mode) writes nothing: it takes a shared lock on an existing lock file, or none.
        """
        self.check_writable()
        path = self.tree.path(self.directory.rstrip("/") + "/lock")
        if create:
            self._ensure()
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        elif os.path.isfile(path):
            fd = os.open(path, os.O_RDONLY)
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

    def new(self, label=None):
        now = datetime.datetime.now(datetime.timezone.utc)
        ident = "%s-%s" % (now.strftime("%Y%m%dT%H%M%S.%fZ"), os.urandom(4).hex())
        return {"id": ident, "label": label, "created": now.isoformat(), "state": PENDING,
                "settings": [], "files": [], "events": []}

    def save(self, record):
        self._ensure()
        record["updated"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
        data = json.dumps(record, indent=1, sort_keys=True).encode("utf-8") + b"\n"
        atomic_write(self.tree, "%s/%s.json" % (self.transactions_dir, record["id"]), data, mode=0o600)

    def transactions(self):
        """Every transaction, oldest first; unreadable ones are reported, not skipped silently."""
        records = []
        for name in self.tree.listdir(self.transactions_dir):
            if not _TRANSACTION_FILE.match(name):
                continue
            try:
                with open(self.tree.path("%s/%s" % (self.transactions_dir, name))) as handle:
                    records.append(json.load(handle))
            except (OSError, ValueError) as exc:
                raise JournalError("journal %s/%s is unreadable: %s" % (self.transactions_dir, name, exc))
        return sorted(records, key=lambda record: record["id"])

    def interrupted(self):
        return [record for record in self.transactions() if record["state"] in (PENDING, INCOMPLETE, TRIAL)]

    def load_state(self):
        """The settings the collection manages on this host: {identity: {value, data}}."""
        try:
            with open(self.tree.path(self.state_path)) as handle:
                return json.load(handle).get("settings", {})
        except (OSError, ValueError):
            return {}
