# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Options of the modules that work on a host's journal (tune, rollback, journal)."""

    DOCUMENTATION = r"""
options:
  journal_dir:
    description:
      - Directory of the host's journal and managed state (files 0600). Made with mode 0700 when missing.
      - Rollback writes, as root, what the journal names, so it must be a real directory (no symbolic link in its
        path) owned by the user running the task and writable by nobody else; a parent others may write must be
        sticky (as C(/tmp) is). Otherwise the task fails before any change; an existing directory is never chmodded.
    type: path
    default: /var/lib/hostperf
  root:
    description: Root of the host's filesystem; only tests set it, to work on a fixture tree.
    type: path
    default: /
"""
