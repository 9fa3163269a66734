"""The example inventories users copy: their profiles exist, their benchmark suites are valid, their waves parse."""

import glob
import os

import pytest
import yaml

from conftest import REPO

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.trials import Sizing, build_suites
from ansible_collections.hostperf.tuning.plugins.plugin_utils.profiles import load_profile

INVENTORIES = ["edge", "datacenter", "lab"]


def group_vars(name):
    merged = {}
    for path in sorted(glob.glob(os.path.join(REPO, "inventories", name, "group_vars", "*.yml"))):
        with open(path) as handle:
            merged.setdefault(os.path.basename(path)[:-4], {}).update(yaml.safe_load(handle) or {})
    return merged


def untemplated(value):
    """A peer given as a variable ({{ hostperf_hub }}) stands for an address here."""
    return "192.0.2.1" if isinstance(value, str) and "{{" in value else value


@pytest.mark.parametrize("name", INVENTORIES)
def test_inventory_is_usable(name):
    groups = group_vars(name)
    assert groups, name
    suites_seen = 0
    for group, variables in groups.items():
        assert not [name for name in variables if name.startswith("hostperf_apply_")], group
        if variables.get("hostperf_profile"):
            assert load_profile(variables["hostperf_profile"], ())
        suites = variables.get("hostperf_baseline_suites")
        if suites:
            specs = [dict((key, untemplated(value)) for key, value in spec.items()) for spec in suites]
            assert build_suites(specs, variables.get("hostperf_baseline_duration", 10)), group
            suites_seen += 1
        waves = variables.get("hostperf_tune_waves")
        if waves:
            assert waves[0] == 1, "%s: the first wave is one canary host" % group
            assert all(isinstance(w, int) or str(w).rstrip("%").isdigit() for w in waves)
    assert suites_seen, "%s measures something" % name
    merged = dict(groups.get("all", {}))
    for group, variables in groups.items():
        settings = dict(merged, **variables)
        # The baseline role's defaults: sizing to a 10% slowdown, up to 10 trials, the gate's alpha and min_effect.
        Sizing(settings.get("hostperf_baseline_target_slowdown", 0.10), settings.get("hostperf_baseline_max_trials", 10),
               settings.get("hostperf_validate_alpha", 0.01), settings.get("hostperf_validate_min_effect", 0.05),
               ).validate(settings.get("hostperf_baseline_trials", 5))
