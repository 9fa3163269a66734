# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshots and atomic replacement of the files a transaction touches.

A snapshot holds a file's bytes, mode and owner, a symbolic link's target,
or the fact that nothing was there, so a rollback can put it back exactly.
Every replacement goes through one temporary name derived from its target,
so what a killed run leaves is known from the path alone (docs/engine.md).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import errno
import os
import stat

_OPEN_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def snapshot(tree, path):
    """The file as it is: bytes, mode and owner; a symbolic link as a link (and what it reads as); or absence."""
    real = tree.path(path)
    try:
        info = os.lstat(real)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return {"path": path, "existed": False, "missing_dirs": _missing_dirs(tree, path)}
        raise
    snap = {"path": path, "existed": True, "uid": info.st_uid, "gid": info.st_gid}
    if stat.S_ISLNK(info.st_mode):
        snap["link"] = os.readlink(real)
        data = _read_regular(real, follow=True)
    else:
        snap["mode"] = info.st_mode & 0o7777
        data = _read_regular(real, follow=False)
        if data is None:
            raise OSError(errno.EINVAL, "not a regular file", path)
    if data is not None:
        snap["content"] = base64.b64encode(data).decode("ascii")
    return snap


def _read_regular(real, follow):
    """The bytes of a regular file; None when it is something else (a FIFO would block) or a link leads nowhere."""
    try:
        fd = os.open(real, os.O_RDONLY | (_OPEN_FLAGS & ~os.O_NOFOLLOW if follow else _OPEN_FLAGS))
    except OSError as exc:
        if follow and exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
            return None
        raise
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read()


def _missing_dirs(tree, path):
    """Ancestors of path that do not exist yet, deepest first: a rollback removes them again."""
    missing = []
    directory = os.path.dirname(path)
    while directory not in ("/", "") and not os.path.isdir(tree.path(directory)):
        missing.append(directory)
        directory = os.path.dirname(directory)
    return missing


def content_of(snap):
    """The bytes a host reading the path saw, or None: the file did not exist, or was a link to nothing."""
    return base64.b64decode(snap["content"]) if snap.get("existed") and "content" in snap else None


def temporary(path):
    """The one name a write of path uses before its rename: a run killed inside it leaves this, and only this."""
    directory, name = os.path.split(path)
    return os.path.join(directory, ".hostperf-%s.tmp" % name)


def written_by(name):
    """The file name whose temporary name is, or None."""
    if name.startswith(".hostperf-") and name.endswith(".tmp"):
        return name[len(".hostperf-"):-len(".tmp")] or None
    return None


def sweep_temporary(tree, path):
    """Remove what a killed write of path left behind (the temporary is ours by its name and place)."""
    real = tree.path(temporary(path))
    if os.path.lexists(real):
        os.unlink(real)
        return True
    return False


def _replace(tree, path, make, owner=None):
    """Make the temporary with make(real_temp), own it, rename it over path, fsync: old or new, never a mix."""
    real = tree.path(path)
    directory = os.path.dirname(real)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    sweep_temporary(tree, path)
    temp = tree.path(temporary(path))
    try:
        make(temp)
        if owner is not None and os.geteuid() == 0:
            os.lchown(temp, owner[0], owner[1])
        os.rename(temp, real)
    except Exception:  # a kill leaves the temporary: the next run's sweep_temporary removes it
        if os.path.lexists(temp):
            os.unlink(temp)
        raise
    fsync_directory(directory)


def atomic_write(tree, path, data, mode=0o644, owner=None):
    """Replace a file (or a link at its path) with data."""
    def make(temp):
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
    _replace(tree, path, make, owner)


def fsync_directory(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove(tree, path):
    real = tree.path(path)
    if os.path.lexists(real):
        os.unlink(real)
        fsync_directory(os.path.dirname(real))


def restore(tree, snap):
    """Put a path back as the snapshot saw it: the file, the link (not what it pointed to), or nothing."""
    sweep_temporary(tree, snap["path"])
    if snap["existed"] and "link" in snap:
        _replace(tree, snap["path"], lambda temp: os.symlink(snap["link"], temp), (snap["uid"], snap["gid"]))
        return
    if snap["existed"]:
        atomic_write(tree, snap["path"], content_of(snap), snap["mode"], (snap["uid"], snap["gid"]))
        return
    remove(tree, snap["path"])
    for directory in snap.get("missing_dirs", []):
        try:
            os.rmdir(tree.path(directory))
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
                raise


def matches(tree, snap):
    """Whether the path is now exactly as the snapshot saw it: content, mode and owner; the same link; absence."""
    try:
        now = snapshot(tree, snap["path"])
    except OSError:
        return False
    if os.path.lexists(tree.path(temporary(snap["path"]))):
        return False
    if not snap["existed"] or not now["existed"]:
        return snap["existed"] == now["existed"] and now.get("missing_dirs") == snap.get("missing_dirs", [])
    if os.geteuid() == 0 and (now["uid"], now["gid"]) != (snap["uid"], snap["gid"]):
        return False
    if "link" in snap or "link" in now:
        return now.get("link") == snap.get("link")
    return now.get("content") == snap.get("content") and now["mode"] == snap["mode"]
