# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way text reaches a udev rule: as a literal, or not at all.

Inside a rule's quotes udev reads * ? [ ] | as a pattern, $ and % as
substitutions, a quote or backslash as the end of the string or an escape,
and a newline as the end of the rule. Escaping those differs between match
and assignment and between udev versions, so a value holding any of them
(or a control or non-ASCII character) is refused, never escaped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_SPECIAL = re.compile(r'["\\*?\[\]|${}%\x00-\x1f\x7f-\U0010ffff]')
_SPECIAL_OR_SPACE = re.compile(r'["\\*?\[\]|${}%\x00-\x20\x7f-\U0010ffff]')


class UdevValueError(ValueError):
    pass


def is_literal(text, spaces=True):
    """Whether udev reads text inside quotes as exactly itself (spaces=False: as one word, too)."""
    return not (_SPECIAL if spaces else _SPECIAL_OR_SPACE).search(str(text))


def literal(text, what, spaces=True):
    """text for a udev rule's quotes, or UdevValueError naming what it is and why."""
    text = str(text)
    if not text or not is_literal(text, spaces):
        raise UdevValueError("%s %r cannot be written into a udev rule literally (it is empty or holds one of "
                             "\" \\ * ? [ ] | $ { } %%%s or a control or non-ASCII character)"
                             % (what, text, "" if spaces else ", a space"))
    return text
