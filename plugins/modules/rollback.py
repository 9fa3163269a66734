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
extends_documentation_fragment:
  - hostperf.tuning.journal
options:
  target:
    description:
      - C(last) undoes the newest transaction, C(pristine) undoes every transaction (the host as before the collection
        first touched it), C(interrupted) undoes transactions a killed run left unfinished, and a transaction id
        undoes that transaction and every newer one.
    type: str
    default: last
  forget:
    description:
      - Settings (identities such as C(block:sdb:read_ahead_kb)) whose device is gone from the host, a disk pulled
        or a NIC removed, so their value cannot be written back. They are reported with C(status) forgotten and
        recorded in the journal, and the rest of the transaction completes instead of staying
        C(rollback_incomplete) forever. The persistence files are restored as always.
      - A setting whose device is still present, or that the rolled-back transactions do not hold, fails the task
        before any change.
    type: list
    elements: str
    default: []
seealso:
  - module: hostperf.tuning.tune
  - module: hostperf.tuning.journal_info
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

- name: Finish a rollback left incomplete because a tuned disk was removed
  hostperf.tuning.rollback:
    target: interrupted
    forget:
      - block:sdb:read_ahead_kb
"""

RETURN = r"""
transactions:
  description: The transactions rolled back, newest first.
  returned: always
  type: list
  elements: str
settings:
  description: Each setting restored, with C(status) restored, failed, forgotten or deferred and the C(error) when
    it failed (or why it was forgotten). Deferred is a kernel module the rollback could not unload because it is
    still in use (connections made while C(tcp_bbr) was the default hold it); nothing loads it at boot any more
    and the C(reason) says how to unload it. A deferred setting does not make the rollback incomplete.
  returned: always
  type: list
  elements: dict
files:
  description: Persistence files restored or removed, with content before and after.
  returned: always
  type: list
  elements: dict
reboot:
  description:
    - C(required) when a restored setting reaches the running kernel only at its next boot (a kernel command-line
      parameter, C(cmdline:*)), and the C(reasons), one per setting.
  returned: always
  type: dict
  sample: {required: true, reasons: ["cmdline:isolcpus is absent from the next boot; the running kernel has 2-3"]}
interrupted:
  description: Transactions found unfinished (a killed run) when the rollback started.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import (
    COMMON_OPTIONS, finish, open_journal, reboot_needed)
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine


def main():
    module = AnsibleModule(argument_spec=dict(target=dict(type="str", default="last"),
                                              forget=dict(type="list", elements="str", default=[]), **COMMON_OPTIONS),
                           supports_check_mode=True)
    tree, journal = open_journal(module.params)

    def roll_back():
        # A host without a journal has nothing to roll back: the directory is not made for that.
        with journal.lock(create=not module.check_mode and journal.exists()):
            result = Engine(tree, journal).rollback(module.params["target"], module.check_mode, module.params["forget"])
        result["reboot"] = reboot_needed(tree, result["settings"])
        return result
    finish(module, roll_back, dict(changed=False, transactions=[], settings=[], files=[], interrupted=[],
                                   reboot=dict(required=False, reasons=[])))


if __name__ == "__main__":
    main()
