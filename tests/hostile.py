"""Hypothesis strategies shared by the fuzzers: hostile texts and values of any shape, and the run settings.

HOSTPERF_FUZZ_EXAMPLES sets the inputs per target (default 60, so `make test` stays quick); `make fuzz` runs more.
"""

import os

from hypothesis import HealthCheck, settings, strategies as st

EXAMPLES = int(os.environ.get("HOSTPERF_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("HOSTPERF_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# Texts that broke something once, or look like what a kernel, udev, YAML, SQLite or a shell would read specially.
HOSTILE = ["", " ", "-", "..", "../x", "a/b", "*", '*",NAME="x', "x\ny", "a\x00b", "\u0661\u0660", "\u00b2", "nan",
           "inf", "-1", "1e3", "0x10", "+10", "max", "50%", "1/2", "on", "off", "yes", "local", "node0", "eth*",
           "/etc/passwd", "/", "/tmp", "sysctl:vm.swappiness", "9" * 30, "0-4294967295", "0-3,8", "rx-0=1", "%s",
           "a:b", "a,b", "$(id)", "`id`", "'", '"', "\\", "#", "A" * 300, "?", "%00", "file:x?mode=rwc", ";"]
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12))
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.integers(-3, 70000),
                   st.floats(allow_nan=True, allow_infinity=True), TEXT)
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=3),
                     max_leaves=8)


def mostly(typed, times=4, other=VALUE):
    """typed `times` in times + 1 draws, other (anything) in the rest: inputs that get past the first check, and
    some that do not. (st.one_of([typed] * 4 + [other]) would not do: it draws each distinct strategy equally.)"""
    return st.integers(0, times).flatmap(lambda draw: other if draw == times else typed)
