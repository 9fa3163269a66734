#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: history
short_description: Record tuning runs in the controller's history store
version_added: 0.1.0
description:
  - Writes to one SQLite file on the controller (WAL mode, so forks record hosts at the same time), created 0600 in
    a 0700 directory when missing. Runs on the controller whatever the task's host is (an action plugin).
  - "C(start) opens a run and returns its id, and marks runs still C(running) as C(interrupted) (their controller
    died before C(finish)); C(host) records one host's outcome: its settings, baseline and after
    samples with their trial conditions, and the gate's verdicts; C(finish) closes the run with its summary."
  - M(hostperf.tuning.history_info) reads it.
  - The tables and example queries are in docs/history.md.
author:
  - hostperf.tuning engineers (@hostperf)
options:
  path:
    description: The history file on the controller.
    type: path
    required: true
  event:
    description: What to record.
    type: str
    required: true
    choices: [start, host, finish]
  run:
    description: The run's id. Required for C(host) and C(finish); C(start) makes one when not given.
    type: str
  playbook:
    description: With C(start), the playbook that runs.
    type: str
  alpha:
    description: With C(start), the gate's significance level for this run.
    type: float
  min_effect:
    description: With C(start), the gate's minimum effect for this run.
    type: float
  host:
    description: With C(host), the host recorded; default the task's host.
    type: str
  outcome:
    description: With C(host), how the host ended. Required for C(host).
    type: str
    choices: [kept, rolled_back, unchanged, checked, failed, lost, not_reached]
  profile:
    description: With C(host), the profile the host was tuned with.
    type: str
  wave:
    description: With C(host), the rollout wave the host was in (1 = canary).
    type: int
  transaction:
    description: With C(host), the transaction id M(hostperf.tuning.tune) returned.
    type: str
  reason:
    description: With C(host), why it ended so, in words.
    type: str
  settings:
    description: With C(host), the C(settings) M(hostperf.tuning.tune) returned; those that changed are recorded.
    type: list
    elements: dict
    default: []
  baseline:
    description: With C(host), the registered baseline M(hostperf.tuning.benchmark) result.
    type: dict
  after:
    description: With C(host), the registered result after the change.
    type: dict
  comparison:
    description: With C(host), what P(hostperf.tuning.compare#filter) returned.
    type: dict
  status:
    description: With C(finish), how the run ended (finished, stopped, ...).
    type: str
    default: finished
  summary:
    description: With C(finish), anything JSON to keep with the run (the end-of-run table).
    type: raw
seealso:
  - module: hostperf.tuning.history_info
  - module: hostperf.tuning.benchmark
  - plugin: hostperf.tuning.compare
    plugin_type: filter
attributes:
  check_mode:
    description:
      - In check mode nothing is recorded and no file or directory is created, but the path is checked as a real
        run would write it (a directory you cannot write fails here, not after the fleet was measured).
    support: full
  diff_mode:
    description: A record is data, not configuration; there is nothing to diff.
    support: none
  action:
    description: Runs on the controller.
    support: full
"""

EXAMPLES = r"""
- name: Open a run
  hostperf.tuning.history:
    path: "{{ playbook_dir }}/../history/hostperf.sqlite"
    event: start
    playbook: tune.yml
  register: hostperf_run
  run_once: true
"""

RETURN = r"""
run:
  description: The run's id (made by C(start) when not given).
  returned: always
  type: str
"""
