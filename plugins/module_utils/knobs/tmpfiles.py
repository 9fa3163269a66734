# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Persistence through systemd-tmpfiles: "w PATH - - - - VALUE" lines that write sysfs values early at boot.

tmpfiles.d splits a line at whitespace and expands % specifiers and C escapes
in both fields; a path or value that would read differently is refused
rather than escaped, since every value written here is a word the kernel
offered.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import HEADER, KnobError

_PLAIN = re.compile(r"^[A-Za-z0-9_.,:@+=/*\[\]-]+\Z")


def tmpfiles_write(path, argument):
    """One tmpfiles.d line that writes argument to path at boot; KnobError for text tmpfiles would not keep."""
    for what, text in (("path", path), ("value", argument)):
        if not _PLAIN.match(str(text)):
            raise KnobError("%s %r cannot be written to a tmpfiles.d line (whitespace, %%, \\ or quotes)"
                            % (what, text))
    return "w %s - - - - %s" % (path, argument)


def tmpfiles_file(lines):
    """The file's text for these lines, or None (no file) when there are none."""
    return HEADER + "".join(line + "\n" for line in lines) if lines else None


def render_paths(entries):
    """A tmpfiles.d file writing each entry's value to its knob's one path ([(knob, value, data)])."""
    return tmpfiles_file([tmpfiles_write(knob.path, value) for knob, value, _data in entries])
