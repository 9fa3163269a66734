import pytest
from hypothesis import given, strategies as st

from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import (
    CpuListError, format_cpulist, format_cpumask, parse_cpulist, parse_cpumask)


@pytest.mark.parametrize("text, cpus", [
    ("", []),
    ("0", [0]),
    ("0-3,8", [0, 1, 2, 3, 8]),
    ("0-7:2", [0, 2, 4, 6]),
    ("  2,1,1 ", [1, 2]),
])
def test_parse_cpulist(text, cpus):
    assert parse_cpulist(text) == cpus


@pytest.mark.parametrize("text", ["a", "3-1", "1-", "0-7:0", "-1", "1,,x"])
def test_parse_cpulist_rejects(text):
    with pytest.raises(CpuListError):
        parse_cpulist(text)


def test_masks_match_the_kernels_layout():
    assert format_cpumask([0, 33], 64) == "00000002,00000001"
    assert parse_cpumask("00000002,00000001") == [0, 33]
    assert parse_cpumask("0") == []


@given(st.sets(st.integers(min_value=0, max_value=511)))
def test_list_and_mask_round_trip(cpus):
    assert parse_cpulist(format_cpulist(cpus)) == sorted(cpus)
    assert parse_cpumask(format_cpumask(sorted(cpus), 512)) == sorted(cpus)
