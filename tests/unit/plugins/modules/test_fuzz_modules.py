"""Property-based fuzzing of every module option and every profile field, through the modules as Ansible runs them.

Each input either fails with fail_json (a message, no traceback) and leaves the host's tree unchanged (a digest of
files, directories, links, modes and owners), or succeeds; a real apply that succeeds is rolled back and must give
back the tree it started from. The number of inputs per target is HOSTPERF_FUZZ_EXAMPLES (tests/hostile.py); `make fuzz`
runs more and prints how many inputs took each path (hypothesis events).
"""

import json
import os
import re
import shutil

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from hypothesis import event, given, strategies as st

from ansible_collections.hostperf.tuning.plugins.module_utils.detect.host import SUBSETS, detect_host
from ansible_collections.hostperf.tuning.plugins.module_utils.engine import module_api, transaction
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import KINDS
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.planner import SELECTOR_SPEC, plan_for_host
from ansible_collections.hostperf.tuning.plugins.filter.plan import plan as plan_filter
from ansible_collections.hostperf.tuning.plugins.modules import benchmark, host_facts, journal_info, rollback, tune
from ansible_collections.hostperf.tuning.plugins.plugin_utils.profiles import SHAPES, ProfileError, load_profile

from conftest import load_capture
from ansible_collections.hostperf.tuning.plugins.module_utils.host.capture import RecordingHostTree, materialize
from fakekernel import FakeKernelTree, outside_journal, tree_digest
from hostile import FUZZ, SCALAR, TEXT, VALUE, mostly

HOST = "lab-datacenter-vm"  # NUMA, NVMe, a multi-queue NIC and its IRQs in 418 files: quick to copy


def _fixture_facts():
    root = materialize(load_capture(HOST), os.path.join(os.environ.get("TMPDIR", "/tmp"), "hostperf-fuzz-names"))
    facts = json.loads(json.dumps(detect_host(FakeKernelTree(root))))
    shutil.rmtree(root)
    return facts


FACTS = _fixture_facts()
DISKS, NICS, IRQS = sorted(FACTS["block"]), sorted(FACTS["nics"]), sorted(str(irq) for irq in FACTS["irqs"])[:6]
PROFILES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "profiles")
# What the shipped profiles plan for the fixture: settings the host takes, so real applies (and their rollbacks)
# are a large share of the inputs rather than one in ten.
PLANNED = sorted(set(item for name in ("datacenter", "edge", "latency", "throughput", "virtual-guest")
                     for item in plan_for_host(FACTS, load_profile(name, [PROFILES]))["settings"].items()))
NAME = st.one_of(st.sampled_from(DISKS + NICS + IRQS), TEXT)


def _identity_from(example):
    """A kind's example identity with any of its fields replaced by a fixture name or hostile text."""
    kind, rest = example.split(":", 1)
    fields = rest.split(":")
    return st.lists(st.one_of(st.none(), NAME), min_size=len(fields), max_size=len(fields)).map(
        lambda names: ":".join([kind] + [f if n is None else n for f, n in zip(fields, names)]))


IDENTITY = st.one_of([_identity_from(example) for kind in KINDS.values() for example in kind.grammar.examples]
                     + [TEXT])


# Planned settings, a value in five replaced by anything: mostly requests the host takes, some one value off.
PLANNED_SETTINGS = st.lists(st.tuples(st.sampled_from(PLANNED), mostly(st.none())),
                            max_size=5).map(lambda drawn: dict(
                                (identity, planned if value is None else value) for (identity, planned), value in drawn))


def _option_value(spec):
    """A value of the option's declared type (mostly valid, as Ansible would pass it), or anything."""
    kind = spec.get("type", "str")
    typed = {"int": st.integers(-5, 100000) | st.integers(-2 ** 70, 2 ** 70), "bool": st.booleans(),
             "float": st.floats(allow_nan=True, allow_infinity=True) | st.floats(-10, 100),
             "str": TEXT | st.sampled_from(DISKS + NICS), "path": TEXT, "dict": st.dictionaries(TEXT, VALUE, max_size=3),
             "list": st.lists(VALUE, max_size=3)}[kind]
    if spec.get("choices"):
        typed = st.sampled_from(list(spec["choices"]))
    if spec.get("options"):
        # Ansible's own validation raises TypeError for a non-mapping where suboptions are declared (ansible-core
        # 2.19: `looks: [null]`); that is Ansible's to fix, so such options get mappings (or lists of them).
        suboptions = _options(spec["options"])
        return st.lists(suboptions, max_size=3) if kind == "list" else suboptions
    return mostly(typed, 9)  # one input in ten of any shape: Ansible's own check refuses those


def _options(spec):
    return st.fixed_dictionaries({}, optional=dict((name, _option_value(option)) for name, option in spec.items()))


class Exited(Exception):
    def __init__(self, failed, result):
        Exception.__init__(self, result.get("msg"))
        self.failed, self.result = failed, result


@pytest.fixture
def run_module(monkeypatch):
    """run_module(module, args) -> Exited: the module's main() as Ansible runs it, on a fake kernel's tree."""
    trees = []

    def fake_tree(root="/", commands=None):
        trees.append(FakeKernelTree(root, loadable={"tcp_bbr", "sch_fq"}))
        return trees[-1]

    def leave(failed):
        def exit_(self, **result):
            raise Exited(failed, result)
        return exit_
    monkeypatch.setattr(module_api, "HostTree", fake_tree)
    monkeypatch.setattr(transaction, "DRIFT_SETTLE", 0)
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", leave(False))
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", leave(True))

    def run(module, args):
        del trees[:]
        with patch_module_args(args):
            try:
                module.main()
            except Exited as exited:
                exited.tree = trees[-1] if trees else None
                return exited
        raise AssertionError("%s ended without exit_json or fail_json" % module.__name__)
    return run


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return materialize(load_capture(HOST), str(tmp_path_factory.mktemp("fuzz-template") / HOST))


def _fresh(template, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("fuzz") / HOST)
    shutil.copytree(template, root, symlinks=True)
    return root


def _judge(exited, root, before, check_mode, journal_dir="/var/lib/hostperf"):
    """The property: a refusal names why and changed nothing; a real apply rolls back to the tree it started from.

    tune makes its journal directory (and lock) even when it then refuses: that directory is not compared.
    """
    if exited.failed:
        assert isinstance(exited.result.get("msg"), str) and exited.result["msg"].strip(), exited.result
        assert "Traceback" not in exited.result["msg"], exited.result["msg"]
        event("refused: " + re.sub(r"'[^']*'|\"[^\"]*\"|\S*\d\S*", "...", exited.result["msg"].split(":", 1)[0])[:40])
        assert outside_journal(root, journal_dir) == before, exited.result["msg"]
        return
    event("accepted%s" % (" (check mode)" if check_mode else ""))
    if check_mode:
        assert outside_journal(root, journal_dir) == before
        return
    if exited.result.get("changed") and exited.tree is not None:
        Engine(exited.tree, Journal(exited.tree, journal_dir)).rollback("pristine")
        assert outside_journal(root, journal_dir) == before, "apply then rollback pristine is not the tree it was"


TUNE_SPEC = dict(SELECTOR_SPEC, settings=dict(type="dict"), persist=dict(type="bool"), label=dict(type="str"),
                 interrupted=dict(type="str", choices=["fail", "rollback"]))
JOURNAL_DIRS = st.sampled_from(["/var/lib/hostperf"] * 6 + ["/", "/tmp", "var/lib/x", "/var/lib/hostperf/../x",
                                                            "/proc/sys", "/var/lib/hostperf/state.json"])


@FUZZ
@given(data=st.data(), check_mode=st.booleans())
def test_tune_takes_any_options_and_either_refuses_unchanged_or_applies_exactly(
        run_module, template, tmp_path_factory, data, check_mode):
    root = _fresh(template, tmp_path_factory)
    if data.draw(st.booleans()):  # anything
        args = data.draw(_options(TUNE_SPEC))
        if data.draw(st.booleans()):
            args["settings"] = data.draw(st.dictionaries(IDENTITY, VALUE, max_size=4) | PLANNED_SETTINGS)
    else:  # what the tune role sends: planned settings, well-formed options
        args = data.draw(st.fixed_dictionaries({"settings": PLANNED_SETTINGS}, optional=dict(
            persist=st.booleans(), label=TEXT, interrupted=st.sampled_from(["fail", "rollback"]))))
    args.update(root=root, journal_dir=data.draw(JOURNAL_DIRS), _ansible_check_mode=check_mode)
    before = outside_journal(root, args["journal_dir"])
    _judge(run_module(tune, args), root, before, check_mode, args["journal_dir"])


@FUZZ
@given(data=st.data(), module=st.sampled_from([rollback, journal_info]))
def test_rollback_and_journal_info_take_any_target(run_module, template, tmp_path_factory, data, module):
    root = _fresh(template, tmp_path_factory)
    tree = FakeKernelTree(root, loadable={"tcp_bbr"})
    Engine(tree, Journal(tree)).apply({"sysctl:vm.swappiness": 10})
    ident = Journal(tree).transactions()[0]["id"]
    option = "target" if module is rollback else "transaction"
    args = {option: data.draw(st.one_of(st.sampled_from(["last", "pristine", "interrupted", ident, ident[:-1]]),
                                        TEXT)), "root": root, "journal_dir": data.draw(JOURNAL_DIRS)}
    before, everything = outside_journal(root), tree_digest(root)
    exited = run_module(module, args)
    if exited.failed or module is journal_info:
        _judge(exited, root, before, True)
    if module is journal_info:
        assert tree_digest(root) == everything, "journal_info changes nothing"


BENCHMARK_SPEC = dict(trials=dict(type="int"), duration=dict(type="int"), warmup=dict(type="int"),
                      pause=dict(type="float"), target_slowdown=dict(type="float"), max_trials=dict(type="int"),
                      alpha=dict(type="float"), min_effect=dict(type="float"), gate_metrics=dict(type="list"),
                      looks=dict(type="dict", options=dict(first=dict(type="int"), last=dict(type="int"), step=dict(type="int"))),
                      seed=dict(type="int"), conditions=dict(type="dict", options=dict(
                          max_steal_pct=dict(type="float"), max_load=dict(type="float"), reruns=dict(type="int"))),
                      paired_with=dict(type="str"))
SUITE = st.fixed_dictionaries(
    {"type": st.sampled_from(["cpu", "memory", "disk", "network", "latency", "custom"]) | TEXT},
    optional=dict((name, _option_value(dict(type=kind))) for name, kind in (
        ("name", "str"), ("cpus", "str"), ("peer", "str"), ("port", "int"), ("streams", "int"), ("directory", "str"),
        ("device", "str"), ("size", "str"), ("command", "list"), ("metrics", "dict"), ("threads", "int"),
        ("protocol", "str"), ("reverse", "bool"), ("omit", "int"), ("cpu_bound", "bool"))))


@FUZZ
@given(data=st.data())
def test_benchmark_in_check_mode_takes_any_suites(run_module, template, tmp_path_factory, data):
    """Check mode validates every option and suite and runs nothing, so any input is safe to try here."""
    root = _fresh(template, tmp_path_factory)
    args = data.draw(_options(BENCHMARK_SPEC))
    args.update(suites=data.draw(st.lists(SUITE, min_size=1, max_size=3) | VALUE), root=root,
                _ansible_check_mode=True)
    before = tree_digest(root)
    exited = run_module(benchmark, args)
    event("refused" if exited.failed else "accepted")
    if exited.failed:
        assert isinstance(exited.result.get("msg"), str) and exited.result["msg"].strip()
    assert tree_digest(root) == before


def _section(shape):
    if isinstance(shape, dict):
        keys = [key for key in shape if key != "*"]
        nested = dict((key, _section(shape[key])) for key in keys)
        if "*" in shape:
            return st.dictionaries(TEXT, _section(shape["*"]), max_size=2) | st.fixed_dictionaries({}, optional=nested)
        return st.fixed_dictionaries({}, optional=nested) | VALUE
    return st.one_of(SCALAR, st.sampled_from([4096, 0.5, 1, "max", "50%", "bbr", "fq", "performance", True]), VALUE)


PROFILE = st.fixed_dictionaries({}, optional=dict(
    [("summary", TEXT | VALUE), ("extends", st.sampled_from(["datacenter", "edge", "nosuch", "../x"]) | VALUE),
     ("sysctl", st.dictionaries(st.sampled_from(["vm.swappiness", "net.core.somaxconn", "net.ipv4.tcp_rmem"]) | TEXT,
                                st.fixed_dictionaries({"value": VALUE}, optional={"reason": TEXT, "risk": TEXT})
                                | VALUE, max_size=3))]
    + [(section, _section(shape)) for section, shape in SHAPES.items()]))


@FUZZ
@given(profile=PROFILE)
def test_any_profile_is_refused_by_name_or_planned_and_applied_or_refused(template, tmp_path_factory, profile):
    directory = tmp_path_factory.mktemp("profiles")
    try:
        text = yaml.safe_dump(profile)
    except yaml.YAMLError:
        return
    (directory / "fuzz.yml").write_text(text)
    try:
        loaded = load_profile("fuzz", [str(directory)])
    except ProfileError as exc:
        event("profile refused")
        assert str(exc).startswith("profile ")
        return
    root = _fresh(template, tmp_path_factory)
    tree = FakeKernelTree(root, loadable={"tcp_bbr", "sch_fq"})
    facts = json.loads(json.dumps(detect_host(tree)))
    plan = plan_for_host(facts, loaded)
    if plan["errors"]:
        event("plan has errors")
        return
    event("planned")
    before = outside_journal(root)
    try:
        module_api.tune(tree, Journal(tree), {"settings": plan["settings"]}, check_mode=True)
    except module_api.KnobError:
        event("plan refused by tune")
    assert outside_journal(root) == before


@FUZZ
@given(data=st.data())
def test_the_plan_filter_takes_any_profile_overrides_and_selectors(template, tmp_path_factory, data):
    """What the tune role feeds the plan filter from inventory variables: a plan, or an error that names the input."""
    args = dict(profile=data.draw(st.sampled_from(["datacenter", "edge", "latency", "", None]) | TEXT),
                profile_paths=data.draw(st.just([PROFILES]) | st.lists(TEXT, max_size=2) | VALUE),
                overrides=data.draw(st.dictionaries(IDENTITY, VALUE, max_size=3) | PLANNED_SETTINGS | VALUE),
                selectors=data.draw(_options(SELECTOR_SPEC) | VALUE), host=data.draw(TEXT | st.none()))
    try:
        plan = plan_filter(FACTS, **args)
    except AnsibleFilterError as exc:
        event("refused: " + str(exc).split(":", 2)[1][:30])
        assert str(exc).startswith("plan: ") and "Traceback" not in str(exc)
        return
    assert isinstance(plan["settings"], dict) and isinstance(plan["errors"], list)
    if plan["errors"]:
        event("plan has errors")
        return
    root = _fresh(template, tmp_path_factory)
    tree = FakeKernelTree(root, loadable={"tcp_bbr", "sch_fq"})
    before = outside_journal(root)
    try:
        module_api.tune(tree, Journal(tree), {"settings": plan["settings"]}, check_mode=True)
        event("planned and checked")
    except module_api.KnobError:
        event("planned, refused by the host")
    assert outside_journal(root) == before


SYSCTL_NAMES = ["vm.swappiness", "net/core/somaxconn", "kernel", "../../etc/passwd", "net.ipv4.conf.enp0s3.rp_filter"]


@FUZZ
@given(data=st.data())
def test_host_facts_takes_any_options_and_changes_nothing(run_module, template, tmp_path_factory, monkeypatch, data):
    root = _fresh(template, tmp_path_factory)
    commands = FakeKernelTree(root)._command
    monkeypatch.setattr(host_facts, "HostTree", lambda root="/": FakeKernelTree(root))
    monkeypatch.setattr(host_facts, "RecordingHostTree", lambda root="/": RecordingHostTree(root, commands))
    outside = tmp_path_factory.mktemp("capture")
    args = data.draw(st.fixed_dictionaries({}, optional=dict(
        gather_subset=mostly(st.lists(mostly(st.sampled_from(["all"] + list(SUBSETS))), max_size=3)),
        sysctls=mostly(st.lists(st.sampled_from(SYSCTL_NAMES) | TEXT, max_size=3)),
        use_ethtool=mostly(st.booleans()), set_facts=st.booleans())))
    args["root"] = root
    capture = data.draw(st.sampled_from([None, "capture.json", "no/such/dir/capture.json", "", "."]))
    if capture is not None:
        args["capture"] = str(outside / capture)
    before = tree_digest(root)
    exited = run_module(host_facts, args)
    event("refused: " + re.sub(r"'[^']*'|\S*\d\S*", "...", exited.result["msg"])[:40] if exited.failed else "detected")
    if exited.failed:
        assert isinstance(exited.result.get("msg"), str) and exited.result["msg"].strip()
    else:
        assert exited.result["hostperf"]["schema"] and exited.result["changed"] is False
    assert tree_digest(root) == before
