# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshots and atomic replacement of the files a transaction touches.

A snapshot holds a file's bytes, mode and owner, or the fact that it did not
exist, so a rollback can put it back byte for byte or remove it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import errno
import os
import tempfile


def snapshot(tree, path):
    real = tree.path(path)
    try:
        info = os.lstat(real)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return {"path": path, "existed": False, "missing_dirs": _missing_dirs(tree, path)}
        raise
    with open(real, "rb") as handle:
        data = handle.read()
    return {"path": path, "existed": True, "content": base64.b64encode(data).decode("ascii"),
            "mode": info.st_mode & 0o7777, "uid": info.st_uid, "gid": info.st_gid}


def _missing_dirs(tree, path):
    """Ancestors of path that do not exist yet, deepest first: a rollback removes them again."""
    missing = []
    directory = os.path.dirname(path)
    while directory not in ("/", "") and not os.path.isdir(tree.path(directory)):
        missing.append(directory)
        directory = os.path.dirname(directory)
    return missing


def content_of(snap):
    """The bytes a snapshot holds, or None for a file that did not exist."""
    return base64.b64decode(snap["content"]) if snap.get("existed") else None


def atomic_write(tree, path, data, mode=0o644, owner=None):
    """Replace a file so that a crash leaves the old or the new content, never a mix."""
    real = tree.path(path)
    directory = os.path.dirname(real)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, temp = tempfile.mkstemp(prefix=".hostperf-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        if owner is not None and os.geteuid() == 0:
            os.chown(temp, owner[0], owner[1])
        os.rename(temp, real)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    fsync_directory(directory)


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
    """Put a file back as the snapshot saw it."""
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
    """Whether the file is now exactly as the snapshot saw it (content, mode; absence)."""
    now = snapshot(tree, snap["path"])
    if not snap["existed"] or not now["existed"]:
        return snap["existed"] == now["existed"] and now.get("missing_dirs") == snap.get("missing_dirs", [])
    return now["content"] == snap["content"] and now["mode"] == snap["mode"]
