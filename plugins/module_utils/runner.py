# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What tune, rollback and journal share: the options that locate the host's journal, and the diff."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.hosttree import HostTree
from ansible_collections.hostperf.tuning.plugins.module_utils.journal import DEFAULT_DIRECTORY, Journal, JournalError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.request import desired_state
from ansible_collections.hostperf.tuning.plugins.module_utils.transaction import Engine, TransactionError

COMMON_OPTIONS = dict(
    journal_dir=dict(type="path", default=DEFAULT_DIRECTORY),
    root=dict(type="path", default="/"),
)


def open_journal(params):
    tree = HostTree(params["root"])
    return tree, Journal(tree, params["journal_dir"])


def tune(tree, journal, params, check_mode=False):
    """What the tune module does, given its parameters: the result, or KnobError/JournalError/TransactionError."""
    result = dict(changed=False, transaction=None, settings=[], files=[], notes=[])
    desired, result["notes"] = desired_state(
        tree, params.get("sysctl"), params.get("block"), params.get("kernel_modules"),
        params.get("tcp_congestion_control"), params.get("default_qdisc"), params.get("default_qdisc_fallback", "keep"),
        params.get("nic"), params.get("irq_affinity"), params.get("irqbalance") or "ban", params.get("cpu_governor"),
        params.get("energy_performance_preference"), params.get("service_cpus"))
    desired.update(params.get("settings") or {})
    engine = Engine(tree, journal)
    with journal.lock():
        unfinished = journal.interrupted()
        if unfinished and params.get("interrupted", "fail") == "fail":
            raise JournalError("transaction(s) %s were interrupted and may be half-applied; roll them back with "
                               "hostperf.tuning.rollback (target=interrupted) or run with interrupted=rollback"
                               % ", ".join(record["id"] for record in unfinished))
        if unfinished:
            result["recovered"] = engine.rollback("interrupted", check_mode)["transactions"]
        result.update(engine.apply(desired, params.get("persist", True), check_mode, params.get("label")))
    return result


def finish(module, action, result):
    """End the task with action()'s result, or a failure saying what happened to each setting."""
    try:
        result.update(action())
    except (KnobError, JournalError) as exc:
        module.fail_json(msg=str(exc), **result)
    except TransactionError as exc:
        result.update(exc.result)
        module.fail_json(msg=str(exc), **result)
    for item in result.get("settings", []):
        if item.get("disruption"):
            module.warn("%s: %s" % (item["identity"], item["disruption"]))
    if module._diff:
        result["diff"] = diff_of(result)
    module.exit_json(**result)


def diff_of(result):
    """Ansible's --diff: the live values, then one entry per file."""
    settings = [item for item in result.get("settings", []) if item.get("changed", True)]
    diffs = [{
        "before_header": "live settings",
        "after_header": "live settings",
        "before": "".join("%s = %s\n" % (item["identity"], item["before"]) for item in settings),
        "after": "".join("%s = %s\n" % (item["identity"], item["after"]) for item in settings),
    }] if settings else []
    for item in result.get("files", []):
        diffs.append({"before_header": item["path"], "after_header": item["path"],
                      "before": item["before"], "after": item["after"]})
    return diffs
