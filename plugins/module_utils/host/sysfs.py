# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Formats the kernel writes in sysfs that detection and knobs both read (CPU lists live in cpulist)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_BRACKETED = re.compile(r"\[([^\]]+)\]")


def parse_choice(text):
    """('current', ['all', 'options']) from a sysfs choice file such as 'always [madvise] never'."""
    if text is None:
        return None, []
    options = [word.strip("[]") for word in text.split()]
    match = _BRACKETED.search(text)
    return (match.group(1) if match else None), options
