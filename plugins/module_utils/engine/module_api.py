# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What tune, rollback and journal share: the options that locate the host's journal, and the diff."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.environment import container, namespaces
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import DEFAULT_DIRECTORY, Journal, JournalError
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.cmdline import ABSENT, TRIAL, boot_trial_request
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import knob_for
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.scope import Ownership
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.coexistence import Coexistence, claims_text, host_claim_facts
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.planner import (
    SELECTOR_SPEC, checked_selectors, plan_for_host, selector_subsets)
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.switch import pairs_possible
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine, TransactionError

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
    desired, result["notes"] = requested_settings(tree, params)
    desired = _boot_trial(tree, journal, desired, params.get("boot_trial", False))
    engine = Engine(tree, journal)
    # a refused setting fails before the journal directory is made or locked
    settings = engine.validate(desired)
    if not params.get("persist", True):
        boot_only = [knob.identity for knob, dummy in settings if knob.borne_by_files or knob.identity == TRIAL]
        if boot_only:
            raise KnobError("%s: live only in the boot configuration, so persist=false cannot set it"
                            % ", ".join(boot_only))
    events = _ownership_events(tree, settings, params.get("container_owns_machine"))
    released, rewrite, taken = _coexistence(tree, settings, desired, params)
    if released:
        desired = dict(desired, **released)
        engine.validate(desired)
    events.extend(taken)
    with journal.lock(create=not check_mode):
        unfinished = journal.interrupted()
        if unfinished and params.get("interrupted", "fail") == "fail":
            raise JournalError("transaction(s) %s were interrupted and may be half-applied; roll them back with "
                               "hostperf.tuning.rollback (target=interrupted) or run with interrupted=rollback"
                               % ", ".join(record["id"] for record in unfinished))
        if unfinished:
            result["recovered"] = engine.rollback("interrupted", check_mode)["transactions"]
        result.update(engine.apply(desired, params.get("persist", True), check_mode, params.get("label"), events,
                                   rewrite, params.get("reassert_files", False)))
    result["notes"].extend(events)
    possible, why = pairs_possible(tree, [item for item in result["settings"] if item["changed"]])
    result["pairs"] = dict(possible=possible, reason=why)
    result["reboot"] = reboot_needed(tree, result["settings"])
    return result


def _boot_trial(tree, journal, desired, boot_trial):
    """With boot_trial, the cmdline settings become a boot-once trial; without, a cmdline setting makes the new
    default, which ends a trial still in the journal's state (the trial's parameters made permanent, or left)."""
    if boot_trial:
        return boot_trial_request(tree, desired)
    sets_default = any(identity.partition(":")[0] == "cmdline" for identity in desired)
    armed = journal.load_state().get(TRIAL, {}).get("value", ABSENT) != ABSENT
    if sets_default and armed and TRIAL not in desired:
        return dict(desired, **{TRIAL: ABSENT})
    return desired


def reboot_needed(tree, items):
    """{required, reasons}: the settings (tune's or rollback's items) the running kernel takes only from the
    next boot on."""
    reasons = []
    for item in items:
        if item.get("status") in ("failed", "forgotten") or "after" not in item:
            continue
        try:
            reason = knob_for(tree, item["identity"]).awaits_boot(item["after"], item.get("before"))
        except (OSError, KnobError):
            continue
        if reason:
            reasons.append(reason)
    return dict(required=bool(reasons), reasons=reasons)


def _ownership_events(tree, settings, owns_machine):
    """Inside a container, refuse the machine's settings (the ones a setting requires too), or journal that it
    takes them: [event]."""
    ownership = Ownership({"container": container(tree), "namespaces": namespaces(tree)})
    foreign = [knob.identity for knob, _value in settings if not ownership.owns(knob.scope)]
    if not foreign:
        return []
    if not owns_machine:
        raise KnobError(ownership.refusal(foreign))
    return [ownership.journal_event(foreign)]


def _coexistence(tree, settings, desired, params):
    """Refuse settings a later sysctl.d line, a NetworkManager profile or a daemon would undo, or take a daemon's
    (coexistence=take): ({identity: value} that stop and disable it, identities to write even where they hold
    the value now, [event]).

    A daemon stopped reverts what it set (tuned's rollback on exit): a value it had set that the request asks
    for is written again after the stop, or it would be the one the daemon found.
    """
    facts = host_claim_facts(tree)
    wanted = dict((knob.identity, value) for knob, value in settings)
    coexistence = Coexistence(facts, params.get("persist", True), params.get("coexistence", "refuse"), wanted)
    blocked, taken = {}, {}
    for identity, value in sorted(wanted.items()):
        for claim in coexistence.claims(identity, value):
            if coexistence.blocks(claim):
                blocked.setdefault(identity, claim)
            else:
                taken.setdefault(claim.who, (claim, []))[1].append(identity)
    if blocked:
        raise KnobError("another owner would undo these settings: %s" % claims_text(blocked))
    released = {}
    for claim, _identities in taken.values():
        for identity, value in claim.release().items():
            if identity in wanted and wanted[identity] != value:
                raise KnobError("%s: asked for %r, but coexistence=take stops and disables %s to take %s"
                                % (identity, wanted[identity], claim.who, ", ".join(_identities)))
            released[identity] = value
    rewrite = set(identity for _claim, identities in taken.values() for identity in identities)
    return released, rewrite, ["took from %s (coexistence=take), stopped and disabled in this transaction: %s"
                               % (who, ", ".join(sorted(identities))) for who, (_claim, identities)
                               in sorted(taken.items())]


def requested_settings(tree, params):
    """({identity: value}, notes): the selectors planned from this host's facts, as the planner would, then settings.

    KnobError names every selector this host cannot take, or of the wrong shape, before any change.
    """
    try:
        selectors = checked_selectors(dict((key, params[key]) for key in SELECTOR_SPEC if key in params))
    except ValueError as exc:
        raise KnobError(str(exc))
    subsets = selector_subsets(selectors)
    facts = detect_host(tree, subsets, use_ethtool="nic" in subsets) if subsets else {}
    planned = plan_for_host(facts, selectors=selectors, owns_machine=params.get("container_owns_machine", False),
                            persist=params.get("persist", True), coexistence=params.get("coexistence", "refuse"))
    if planned["errors"]:
        raise KnobError("; ".join(planned["errors"]))
    desired = dict(planned["settings"])
    desired.update(params.get("settings") or {})
    return desired, planned["notes"]


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
        result["diff"] = diff_of(result, verbose=module._verbosity >= 1)
    module.exit_json(**result)


def _shown(value):
    """A live value as the diff shows it; None is a setting not there yet (a tunable of the scheduler to come)."""
    return "(absent)" if value is None else value


def diff_of(result, verbose=False):
    """Ansible's --diff: the live values, then one entry per file; generated files in one line unless verbose."""
    settings = [item for item in result.get("settings", []) if item.get("changed", True)]
    diffs = [{
        "before_header": "live settings",
        "after_header": "live settings",
        "before": "".join("%s = %s\n" % (item["identity"], _shown(item["before"])) for item in settings),
        "after": "".join("%s = %s\n" % (item["identity"], _shown(item["after"])) for item in settings),
    }] if settings else []
    for item in result.get("files", []):
        before, after = item["before"], item["after"]
        if item.get("generated") and not verbose:
            before = "%d lines\n" % len(before.splitlines()) if before else ""
            after = "%d lines, generated by the collection (-v shows them)\n" % len(after.splitlines()) if after else ""
        diffs.append({"before_header": item["path"], "after_header": item["path"], "before": before, "after": after})
    return diffs
