#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: journal_info
short_description: List what hostperf.tuning changed on a host, transaction by transaction
version_added: 0.1.0
description:
  - Reads the host's journal and returns every transaction with when it ran, its label, its state (committed,
    rolled_back, pending for one a killed run left unfinished, rolling_back for a rollback that was killed,
    rollback_incomplete, on_trial for one being measured in pairs or whose paired trials were killed) and what it
    changed.
  - Fails, naming the file, when a journal record or the state file is not one this collection wrote (damaged,
    a symbolic link, owned or writable by another user), since the journal decides what a rollback writes as root.
  - Also returns the settings the collection currently manages on the host. Changes nothing.
author:
  - hostperf.tuning engineers (@hostperf)
extends_documentation_fragment:
  - hostperf.tuning.journal
options:
  transaction:
    description: Return only this transaction, with the full before/after of every setting and file snapshot.
    type: str
seealso:
  - module: hostperf.tuning.tune
  - module: hostperf.tuning.rollback
attributes:
  check_mode:
    description: Runs the same in check mode.
    support: full
  diff_mode:
    description: Nothing changes, so there is nothing to diff.
    support: none
"""

EXAMPLES = r"""
- name: What has been changed on this host
  hostperf.tuning.journal_info:
  register: hostperf_journal

- name: Show the transactions
  ansible.builtin.debug:
    msg: "{{ hostperf_journal.transactions | map(attribute='id') | list }}"
"""

RETURN = r"""
transactions:
  description: Transactions in the order they were made (by C(sequence), not by the clock), each with C(id),
    C(sequence), C(label), C(created), C(state), C(settings)
    (identity, before, after) and C(files) (paths it snapshotted).
  returned: always
  type: list
  elements: dict
interrupted:
  description: Ids of transactions a killed run left unfinished.
  returned: always
  type: list
  elements: str
managed:
  description: The settings the collection manages on this host now, by identity.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import UNFINISHED, JournalError
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import COMMON_OPTIONS, open_journal


def _summary(record, full):
    summary = {key: record.get(key) for key in ("id", "sequence", "label", "created", "updated", "state", "events")}
    summary["settings"] = record["settings"]
    summary["files"] = record["files"] if full else [snap["path"] for snap in record["files"]]
    return summary


def main():
    module = AnsibleModule(argument_spec=dict(transaction=dict(type="str"), **COMMON_OPTIONS),
                           supports_check_mode=True)
    tree, journal = open_journal(module.params)
    wanted = module.params["transaction"]
    try:
        records = journal.transactions()
        managed = journal.load_state()
    except JournalError as exc:
        module.fail_json(msg=str(exc))
    interrupted = [record["id"] for record in records if record["state"] in UNFINISHED]
    if wanted:
        records = [record for record in records if record["id"] == wanted]
        if not records:
            module.fail_json(msg="transaction %r: no such transaction on this host" % wanted)
    module.exit_json(changed=False, transactions=[_summary(record, bool(wanted)) for record in records],
                     interrupted=interrupted, managed=managed)


if __name__ == "__main__":
    main()
