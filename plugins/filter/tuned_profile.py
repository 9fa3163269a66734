# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tuned_profile
short_description: A Red Hat tuned profile translated into a hostperf.tuning profile
version_added: 0.1.0
author:
  - hostperf.tuning engineers (@hostperf)
description:
  - Reads a tuned profile (its C(tuned.conf) and every profile it includes) on the controller and returns the
    equivalent hostperf.tuning profile, with every directive that has no equivalent listed, file and line.
  - Translated are C([sysctl]), C([cpu]) C(governor) and C(energy_performance_preference), C([disk]) C(elevator) and
    C(readahead) (KiB, or sectors with C(s)), C([vm]) C(transparent_hugepages), C([variables]) and tuned's C(>)
    (only raise a value).
options:
  _input:
    description: The tuned profile's name (searched in O(dirs)) or the path of its directory.
    type: str
    required: true
  dirs:
    description: Directories holding tuned profiles, searched in order.
    type: list
    elements: path
    default: [/etc/tuned, /usr/lib/tuned]
"""

EXAMPLES = r"""
- name: Translate a custom tuned profile
  ansible.builtin.set_fact:
    hostperf_imported: "{{ 'my-db-profile' | hostperf.tuning.tuned_profile }}"

- name: Save it as a profile of ours
  ansible.builtin.copy:
    content: "{{ hostperf_imported.profile | to_nice_yaml }}"
    dest: profiles/my-db-profile.yml
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The translation.
  type: dict
  contains:
    profile:
      description: The hostperf.tuning profile, ready to save as C(NAME.yml) in a profile directory.
      type: dict
    untranslated:
      description: "One line per tuned directive with no equivalent, C(file:line: [section] key=value)."
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hostperf.tuning.plugins.plugin_utils.tuned import TUNED_DIRS, TunedError, import_tuned


def tuned_profile(name, dirs=None):
    try:
        profile, untranslated = import_tuned(name, dirs or TUNED_DIRS)
    except (TunedError, OSError) as exc:
        raise AnsibleFilterError("tuned_profile: %s" % exc)
    return {"profile": profile, "untranslated": untranslated}


class FilterModule:
    def filters(self):
        return {"tuned_profile": tuned_profile}
