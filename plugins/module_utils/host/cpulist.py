# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPU lists ("0-3,8") and masks ("ff,00000000") as the kernel writes them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# The largest CONFIG_NR_CPUS any architecture allows (x86 MAXSMP, powerpc): no kernel numbers a CPU at or beyond
# it. Checked before a range is expanded, so "0-4294967295" is an error, not a list of four billion numbers.
MAX_CPUS = 8192


class CpuListError(ValueError):
    pass


def parse_cpulist(text):
    """Sorted CPU numbers of a list such as '0-3,8,10-14:2' ('' is empty)."""
    cpus = set()
    text = (text or "").strip()
    if not text:
        return []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        stride = 1
        if ":" in part:
            part, dummy, step = part.partition(":")
            stride = _number(step, text)
            if "/" in step or stride < 1:
                raise CpuListError("bad stride in CPU list %r" % text)
        if "-" in part:
            low, dummy, high = part.partition("-")
            low, high = _number(low, text), _number(high, text)
            if high < low:
                raise CpuListError("descending range in CPU list %r" % text)
            cpus.update(range(low, high + 1, stride))
        else:
            cpus.add(_number(part, text))
    return sorted(cpus)


def _number(token, text):
    token = token.strip()
    if not token or not token.isascii() or not token.isdigit():
        raise CpuListError("%r is not a CPU number in CPU list %r" % (token, text))
    if len(token) > 5 or int(token) >= MAX_CPUS:
        raise CpuListError("CPU %s in CPU list %r is beyond any kernel's CPU numbers (0..%d)"
                           % (token, text, MAX_CPUS - 1))
    return int(token)


def format_cpulist(cpus):
    """The kernel's compact form: [0, 1, 2, 5] -> '0-2,5'."""
    ordered = sorted(set(cpus))
    parts = []
    start = prev = None
    for cpu in ordered:
        if start is None:
            start = prev = cpu
        elif cpu == prev + 1:
            prev = cpu
        else:
            parts.append(_span(start, prev))
            start = prev = cpu
    if start is not None:
        parts.append(_span(start, prev))
    return ",".join(parts)


def _span(start, end):
    return str(start) if start == end else "%d-%d" % (start, end)


def parse_cpumask(text):
    """CPU numbers set in a mask such as 'ff,00000001' (32-bit words, high first)."""
    digits = (text or "").strip().replace(",", "")
    if not digits:
        return []
    if len(digits.lstrip("0")) > MAX_CPUS // 4:
        raise CpuListError("CPU mask %r names CPUs beyond any kernel's (0..%d)" % (text[:40] + "...", MAX_CPUS - 1))
    try:
        value = int(digits, 16)
    except ValueError:
        raise CpuListError("%r is not a CPU mask" % text)
    cpus = []
    bit = 0
    while value:
        if value & 1:
            cpus.append(bit)
        value >>= 1
        bit += 1
    return cpus


def format_cpumask(cpus, nr_cpus=None):
    """The mask the kernel prints for these CPUs, in comma-separated 32-bit words."""
    value = 0
    for cpu in cpus:
        if not 0 <= cpu < MAX_CPUS:
            raise CpuListError("CPU %r is beyond any kernel's CPU numbers (0..%d)" % (cpu, MAX_CPUS - 1))
        value |= 1 << cpu
    width = max(nr_cpus or 0, (max(cpus) + 1) if cpus else 1)
    words = (width + 31) // 32
    chunks = []
    for index in reversed(range(words)):
        chunks.append("%08x" % ((value >> (32 * index)) & 0xFFFFFFFF))
    return ",".join(chunks)
