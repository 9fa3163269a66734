#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: history_info
short_description: Query the controller's history of tuning runs
version_added: 0.1.0
description:
  - Runs one SQL statement on a read-only connection to the SQLite file M(hostperf.tuning.history) writes, on the
    controller whatever the task's host is (an action plugin). Only reading is authorized, SELECT and WITH;
    a statement that would write, ATTACH another file, VACUUM INTO one, change a PRAGMA or load an extension fails.
  - The tables and example queries are in docs/history.md.
author:
  - hostperf.tuning engineers (@hostperf)
options:
  path:
    description: The history file on the controller.
    type: path
    required: true
  sql:
    description: One SQL statement.
    type: str
    required: true
  parameters:
    description: Values for the statement's C(?) placeholders.
    type: list
    elements: raw
    default: []
  max_rows:
    description:
      - The most rows the task returns; a statement that yields more fails, naming this option, rather than
        filling the controller's memory (or returning a silently shortened answer). At most 1000000.
    type: int
    default: 10000
  timeout:
    description:
      - Seconds the statement may run; one still running then (a recursive query without a bound never ends) is
        stopped and the task fails, naming this option. At most 3600.
    type: float
    default: 60.0
seealso:
  - module: hostperf.tuning.history
attributes:
  check_mode:
    description: Reads in check mode too; it never writes.
    support: full
  diff_mode:
    description: Nothing changes, so there is nothing to diff.
    support: none
  action:
    description: Runs on the controller.
    support: full
"""

EXAMPLES = r"""
- name: Hosts rolled back in the last 30 days
  hostperf.tuning.history_info:
    path: "{{ lookup('ansible.builtin.env', 'HOME') }}/.local/share/hostperf-tuning/history.sqlite"
    sql: SELECT host, recorded, reason FROM hosts WHERE outcome = ? AND recorded > date('now', '-30 days')
    parameters: [rolled_back]
  register: hostperf_rolled_back
  run_once: true
"""

RETURN = r"""
rows:
  description: One dict per row, by column name.
  returned: always
  type: list
  elements: dict
"""
