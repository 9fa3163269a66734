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
    description: Directory of the host's journal and managed state (mode 0700, files 0600).
    type: path
    default: /var/lib/hostperf
  root:
    description: Root of the host's filesystem; only tests set it, to work on a fixture tree.
    type: path
    default: /
"""
