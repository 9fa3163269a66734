#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rollback
short_description: Put a host back exactly as it was before hostperf.tuning changed it
version_added: 0.1.0
description:
  - Replays the host's journal backwards, newest transaction first, down to the O(target) transaction. Each live
    value is written back in dependency order and re-read; each persistence file is restored byte for byte (content
    and mode), and files that did not exist before are removed.
  - Reports every setting it could not restore and why, and marks the transaction C(rollback_incomplete) so a
    later run can try again.
  - Detects transactions a killed run left half-applied; O(target=interrupted) rolls exactly those back.
author:
  - hostperf.tuning engineers (@hostperf)
options:
  target:
    description:
      - C(last) undoes the newest transaction, C(pristine) undoes every transaction (the host as before the collection
        first touched it), C(interrupted) undoes transactions a killed run left unfinished, and a transaction id
        undoes that transaction and every newer one.
    type: str
    default: last
  journal_dir:
    description: Directory of the host's journal.
    type: path
    default: /var/lib/hostperf
  root:
    description: Root of the host's filesystem; only tests set it.
    type: path
    default: /
seealso:
  - module: hostperf.tuning.tune
  - module: hostperf.tuning.journal
attributes:
  check_mode:
    description: Reports what would be restored and changes nothing.
    support: full
  diff_mode:
    description: Shows every value and file before and after the restore.
    support: full
"""

EXAMPLES = r"""
- name: Undo the last tuning run
  hostperf.tuning.rollback:

- name: Back to the host as it was before the collection first touched it
  hostperf.tuning.rollback:
    target: pristine

- name: Undo a named transaction and everything after it
  hostperf.tuning.rollback:
    target: 20261122T194501.123456Z-1a2b3c4d
"""

RETURN = r"""
transactions:
  description: The transactions rolled back, newest first.
  returned: always
  type: list
  elements: str
settings:
  description: Each setting restored, with C(status) restored or failed and the C(error) when it failed.
  returned: always
  type: list
  elements: dict
files:
  description: Persistence files restored or removed, with content before and after.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostperf.tuning.plugins.module_utils.journal import JournalError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.runner import COMMON_OPTIONS, diff_of, open_journal
from ansible_collections.hostperf.tuning.plugins.module_utils.transaction import Engine, TransactionError


def main():
    module = AnsibleModule(argument_spec=dict(target=dict(type="str", default="last"), **COMMON_OPTIONS),
                           supports_check_mode=True)
    tree, journal = open_journal(module.params)
    result = dict(changed=False, transactions=[], settings=[], files=[])
    try:
        with journal.lock():
            result.update(Engine(tree, journal).rollback(module.params["target"], module.check_mode))
    except (KnobError, JournalError) as exc:
        module.fail_json(msg=str(exc), **result)
    except TransactionError as exc:
        result.update(exc.result)
        module.fail_json(msg=str(exc), **result)
    if module._diff:
        result["diff"] = diff_of(result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
