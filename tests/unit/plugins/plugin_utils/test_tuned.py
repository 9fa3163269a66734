"""Importing tuned profiles: include chains, variables, '>' and units translated; the rest listed, never dropped."""

import os

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.rules.planner import plan_for_host
from ansible_collections.hostperf.tuning.plugins.plugin_utils.profiles import check_profile, merge
from ansible_collections.hostperf.tuning.plugins.plugin_utils.tuned import TUNED_DIRS, TunedError, import_tuned

BASE = """[main]
summary=Company base
[variables]
dirty=15
[cpu]
governor=performance|powersave
energy_perf_bias=performance
[disk]
readahead=>8192 s
[sysctl]
vm.dirty_ratio=${dirty}
net.core.somaxconn=>2048
[bootloader]
cmdline=skew_tick=1
"""
DB = """# a customer's own profile
[main]
summary=Database servers
include=company-base
[sysctl]
vm.swappiness = 1
kernel.sched_min_granularity_ns=${f:cpu_count}
[disk]
elevator=none
[arm]
type=sysctl
uname_regex=aarch64
kernel.numa_balancing=0
[script]
script=${i:PROFILE_DIR}/script.sh
"""


@pytest.fixture
def tuned_dir(tmp_path):
    for name, text in (("company-base", BASE), ("db", DB)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "tuned.conf").write_text(text)
    return str(tmp_path)


def test_includes_variables_units_and_raise_only_are_translated(tuned_dir):
    profile, untranslated = import_tuned("db", [tuned_dir])
    assert profile["summary"] == "Database servers (imported from tuned db)"
    assert profile["sysctl"]["vm.swappiness"]["value"] == "1"
    assert profile["sysctl"]["vm.dirty_ratio"]["value"] == "15"          # ${dirty} from the included profile
    assert profile["sysctl"]["net.core.somaxconn"]["value"] == ">2048"
    assert profile["cpu"]["governor"] == ["performance", "powersave"]
    assert profile["block"]["hdd"] == {"read_ahead_kb": ">4096", "scheduler": "none"}  # 8192 sectors = 4096 KiB
    assert profile["sysctl"]["vm.swappiness"]["reason"] == "from tuned profile db: vm.swappiness=1"


def test_everything_else_is_listed_with_file_and_line(tuned_dir):
    dummy, untranslated = import_tuned("db", [tuned_dir])
    text = "\n".join(untranslated)
    for words in ("company-base/tuned.conf:7: [cpu] energy_perf_bias=performance",
                  "[bootloader] cmdline=skew_tick=1", "[sysctl] kernel.sched_min_granularity_ns=${f:cpu_count}",
                  "[arm] kernel.numa_balancing=0 (the section applies only where uname_regex matches)",
                  "[script] script=${i:PROFILE_DIR}/script.sh"):
        assert words in text
    assert len(untranslated) == 7


def test_an_imported_profile_plans_with_raise_only_semantics(tuned_dir, host_root):
    import json
    from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import detect_host
    from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree
    facts = json.loads(json.dumps(detect_host(HostTree(host_root("dc-2socket")))))
    profile, dummy = import_tuned("db", [tuned_dir])
    plan = plan_for_host(facts, merge({}, profile))
    assert "sysctl:net.core.somaxconn" not in plan["settings"]          # 4096 is already above 2048
    assert any("already 4096, at least 2048" in note for note in plan["notes"])
    assert plan["settings"]["block:sda:read_ahead_kb"] == "4096"       # 128 is below 4096: raised
    assert plan["settings"]["cpufreq:scaling_governor"] == "performance"


def test_missing_and_looping_profiles_are_errors(tuned_dir):
    with pytest.raises(TunedError, match="tuned profile nosuch: not found"):
        import_tuned("nosuch", [tuned_dir])
    with open(os.path.join(tuned_dir, "company-base", "tuned.conf"), "a") as handle:
        handle.write("[main]\ninclude=db\n")
    with pytest.raises(TunedError, match="includes itself"):
        import_tuned("db", [tuned_dir])


def test_a_profile_that_is_not_text_or_not_named_is_refused_by_name(tuned_dir):
    """Found by the controller fuzzer: UnicodeDecodeError and TypeError reached the operator as tracebacks."""
    with open(os.path.join(tuned_dir, "db", "tuned.conf"), "ab") as handle:
        handle.write(b"[sysctl]\nvm.swappiness=\xff\n")
    with pytest.raises(TunedError, match="db/tuned.conf: not UTF-8 text"):
        import_tuned("db", [tuned_dir])
    with pytest.raises(TunedError, match="must be a name or a path"):
        import_tuned(None, [tuned_dir])
    with pytest.raises(TunedError, match="directories must be a list of paths"):
        import_tuned("db", tuned_dir)


def test_every_installed_tuned_profile_imports_and_accounts_for_each_directive():
    """tuned's own profiles (make test installs Debian's tuned package): real data, and every one must import."""
    names = sorted(name for name in os.listdir("/usr/lib/tuned")
                   if os.path.isfile(os.path.join("/usr/lib/tuned", name, "tuned.conf")))
    assert len(names) > 20
    for name in names:
        try:
            profile, untranslated = import_tuned(name, TUNED_DIRS)
        except TunedError as exc:
            assert "not found" in str(exc), (name, exc)  # an include of a file only the user writes
            continue
        assert profile["summary"] and all(": [" in line for line in untranslated), name
        assert check_profile(profile) == [], name
    assert import_tuned("network-latency", TUNED_DIRS)[0]["thp"] == {"enabled": "never"}
