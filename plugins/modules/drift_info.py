#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: drift_info
short_description: Tell whether a host still holds what hostperf.tuning set, and who changed what it does not
version_added: 0.1.0
description:
  - For every setting the collection manages on the host (the newest committed transaction that set it, live-only
    ones included, and the managed state the boot re-applies), reads the live value and compares it with the
    managed one. A device that a boot renumbered (an IRQ) is found again by its name.
  - Compares every persistence file (sysctl.d, udev rules, modules-load.d, the IRQ helper and units, the boot
    recovery) with what the managed state renders, and reports files edited, removed, or left where nothing
    should be.
  - Says who changed a drifted setting where the host can tell, in the C(who) and C(cause) of RV(settings),
    a C(sysctl.d) line a boot reads after ours, a running or enabled tuned, bpftune, a NetworkManager connection
    profile, irqbalance running without the collection's policy script, a reboot since the transaction (told by
    the kernel's boot id, not by the clock) that lost a live-only value or read an edited persistence file,
    a device that is gone; otherwise C(unknown).
  - Returns the repair as requests for M(hostperf.tuning.tune) (RV(repair) and RV(repair_files) persisted,
    RV(repair_live) with O(hostperf.tuning.tune#module:persist=false) for values that were set live only), so a
    repair is a new journaled transaction that a rollback can undo and persists nothing that was not. Settings someone else holds by a file line, or a daemon
    under O(coexistence=refuse), are left out of it, since re-asserting them would be undone again.
  - Changes nothing. A transaction a killed run left unfinished makes the host drifted, and its settings
    C(unsettled), until M(hostperf.tuning.rollback) with C(target=interrupted) has run.
author:
  - hostperf.tuning engineers (@hostperf)
extends_documentation_fragment:
  - hostperf.tuning.journal
options:
  coexistence:
    description:
      - What the repair may do about a daemon that holds a drifted setting, as O(hostperf.tuning.tune#module:coexistence).
        With C(take) such settings are in RV(repair) (tune then stops and disables the daemon in the repair's
        transaction); with C(refuse) they are left out.
    type: str
    choices: [refuse, take]
    default: refuse
seealso:
  - module: hostperf.tuning.journal_info
  - module: hostperf.tuning.tune
attributes:
  check_mode:
    description: Runs the same in check mode.
    support: full
  diff_mode:
    description: Nothing changes, so there is nothing to diff.
    support: none
"""

EXAMPLES = r"""
- name: Is the host still as tuned?
  hostperf.tuning.drift_info:
  register: hostperf_drift

- name: Put back what drifted and was persisted, as a new transaction
  hostperf.tuning.tune:
    settings: "{{ hostperf_drift.repair }}"
    reassert_files: "{{ hostperf_drift.repair_files }}"
    label: drift repair
  when: hostperf_drift.repair | length > 0 or hostperf_drift.repair_files

- name: Put back what drifted and was set live only, live only
  hostperf.tuning.tune:
    settings: "{{ hostperf_drift.repair_live }}"
    persist: false
    label: drift repair (live only)
  when: hostperf_drift.repair_live | length > 0
"""

RETURN = r"""
drifted:
  description: Whether any managed setting or persistence file differs, or a transaction is unfinished.
  returned: always
  type: bool
settings:
  description:
    - Every managed setting with C(identity), C(managed) (the value the journal says it holds), C(live),
      C(persisted) (whether the next boot sets it), C(transaction) (the one that set it), C(status) (C(in_sync),
      C(drifted), C(gone) for a device that cannot be read, C(unsettled) for one an unfinished transaction
      touches), and for the others C(who) (a file path, C(tuned), C(bpftune), C(irqbalance), C(reboot), C(file),
      C(device), C(journal) or C(unknown)), C(cause), a sentence, and C(not_repaired), why a repair would not
      hold, where it would not.
    - C(live_only) says the managed value was set with O(hostperf.tuning.tune#module:persist=false) (or differs
      from the one the next boot sets).
    - C(now) names the identity a boot gave the device since (an IRQ's new number).
  returned: always
  type: list
  elements: dict
  sample: [{identity: sysctl:net.core.somaxconn, managed: "8192", live: "4096", persisted: true, status: drifted,
            who: /etc/sysctl.d/99-local.conf, cause: "/etc/sysctl.d/99-local.conf line 3 sets ... after ours at boot"}]
files:
  description: Persistence files that differ from what the managed state renders, with C(path), C(status)
    (C(edited), C(removed), C(created), C(unreadable)) and C(cause).
  returned: always
  type: list
  elements: dict
interrupted:
  description: Transactions a killed run left unfinished, as C(id (state)).
  returned: always
  type: list
  elements: str
repair:
  description: "{identity: value} that puts the repairable drifted persisted settings back, as
    M(hostperf.tuning.tune)'s O(hostperf.tuning.tune#module:settings)."
  returned: always
  type: dict
repair_live:
  description: "{identity: value} of repairable drifted settings that were set live only, for
    M(hostperf.tuning.tune) with O(hostperf.tuning.tune#module:persist=false)."
  returned: always
  type: dict
repair_files:
  description: Whether a repair must also rewrite persistence files (O(hostperf.tuning.tune#module:reassert_files)).
  returned: always
  type: bool
boot:
  description: This boot's id (C(/proc/sys/kernel/random/boot_id)), which transactions record.
  returned: always
  type: str
summary:
  description: One line per drifted setting, file or unfinished transaction.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.drift import DriftReport
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import JournalError
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import COMMON_OPTIONS, open_journal
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.coexistence import COEXISTENCE_MODES


def main():
    module = AnsibleModule(argument_spec=dict(
        coexistence=dict(type="str", choices=list(COEXISTENCE_MODES), default="refuse"), **COMMON_OPTIONS),
        supports_check_mode=True)
    tree, journal = open_journal(module.params)
    try:
        with journal.lock(create=False):
            report = DriftReport(tree, journal, module.params["coexistence"]).build()
    except (JournalError, KnobError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
