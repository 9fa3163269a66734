import pytest
from hypothesis import given, strategies as st

from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import (
    MAX_CPUS, CpuListError, format_cpulist, format_cpumask, parse_cpulist, parse_cpumask)


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


@pytest.mark.parametrize("text, words", [
    ("0-4294967295", "CPU 4294967295 in CPU list '0-4294967295' is beyond any kernel's CPU numbers (0..8191)"),
    ("8192", "beyond any kernel's CPU numbers"),
    ("0-99999999999999999999:1", "beyond any kernel's CPU numbers"),
    ("\u0661-\u0663", "is not a CPU number"),
])
def test_a_range_is_bounded_before_it_is_expanded(text, words):
    with pytest.raises(CpuListError) as refused:
        parse_cpulist(text)
    assert words in str(refused.value)


def test_masks_beyond_any_kernel_are_refused_before_they_are_expanded():
    with pytest.raises(CpuListError, match="beyond any kernel's"):
        parse_cpumask("f" * 100000)
    with pytest.raises(CpuListError, match="beyond any kernel's"):
        format_cpumask([MAX_CPUS])
    assert parse_cpulist("8191") == [MAX_CPUS - 1] and parse_cpumask("0" * 5000 + "1") == [0]
