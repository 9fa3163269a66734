"""Transparent huge pages: a kind added in one knob file and one rule (issue 13), set, persisted, rolled back."""

import json
import os

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.thp import TMPFILES_PATH
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.planner import plan_for_host
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine
from ansible_collections.hostperf.tuning.plugins.plugin_utils.profiles import check_profile

from fakekernel import FakeKernelTree, assert_refused_unchanged, outside_journal, tree_digest

ENABLED = "/sys/kernel/mm/transparent_hugepage/enabled"
DEFRAG = "/sys/kernel/mm/transparent_hugepage/defrag"


@pytest.fixture
def dc(host_root):
    return FakeKernelTree(host_root("dc-2socket"))


def test_both_modes_set_persisted_for_boot_idempotent_and_rolled_back_exactly(dc):
    before = tree_digest(dc.root)
    journal = Journal(dc)
    request = {"settings": {"thp:enabled": "never", "thp:defrag": "defer"}}
    result = tune(dc, journal, request)
    assert [(item["identity"], item["before"], item["after"]) for item in result["settings"]] == [
        ("thp:enabled", "madvise", "never"), ("thp:defrag", "madvise", "defer")]
    assert dc.read(ENABLED) == "always madvise [never]"
    assert dc.read(DEFRAG).split().count("[defer]") == 1
    assert dc.read(TMPFILES_PATH).splitlines()[1:] == [
        "w %s - - - - never" % ENABLED, "w %s - - - - defer" % DEFRAG]
    assert os.stat(dc.path(TMPFILES_PATH)).st_mode & 0o777 == 0o644
    assert tune(dc, journal, request)["changed"] is False
    Engine(dc, journal).rollback("last")
    assert outside_journal(dc.root) == before


@pytest.mark.parametrize("settings, words", [
    ({"thp:enabled": "sometimes"}, ["thp enabled", "'sometimes' is not offered", "always, madvise, never"]),
    ({"thp:khugepaged": "1"}, ["thp 'khugepaged'", "unknown setting", "defrag, enabled"]),
    ({"thp:enabled:x": "never"}, ["thp 'enabled:x'", "unknown setting"]),
    ({"thp:defrag": "never\nw /etc/shadow - - - - x"}, ["thp defrag", "is not offered"]),
])
def test_bad_modes_change_nothing(dc, settings, words):
    assert_refused_unchanged(dc, {"settings": settings}, words)


def test_a_kernel_without_transparent_huge_pages_is_refused_before_any_change(dc):
    os.remove(dc.path(ENABLED))
    assert_refused_unchanged(dc, {"settings": {"thp:enabled": "never"}}, ["thp enabled", "no transparent huge pages"])


def test_the_profile_section_plans_offered_modes_and_notes_the_rest(dc):
    facts = json.loads(json.dumps(detect_host(dc)))
    plan = plan_for_host(facts, {"thp": {"enabled": "never", "defrag": "sometimes"}})
    assert plan["settings"] == {"thp:enabled": "never"}
    assert plan["entries"][0]["current"] == "madvise" and plan["entries"][0]["risk"] == "medium"
    assert plan["notes"] == ["thp defrag: sometimes is not offered (offered: always, defer, defer+madvise, madvise, "
                             "never); left as madvise"]
    facts["memory"]["thp"] = None
    assert plan_for_host(facts, {"thp": {"enabled": "never"}})["notes"] == [
        "no transparent huge pages on this kernel: thp left alone"]
    assert check_profile({"thp": {"enabled": ["never"], "huge": "x"}}) == [
        "thp.enabled: ['never'] is not text", "thp.huge: unknown key (known: defrag, enabled)"]
