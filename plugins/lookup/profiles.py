# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: profiles
short_description: The profiles hostperf_profile can name, with what each is for
version_added: 0.1.0
author:
  - hostperf.tuning engineers (@hostperf)
description:
  - Lists every profile found in the given directories (your C(hostperf_profile_paths)) and the collection's own
    C(profiles/), a name in an earlier directory hiding the same name later, as the planner finds them.
  - Each profile's C(summary), C(extends) and file; a profile that does not load (bad YAML, an unknown section)
    is listed with its C(error) instead of failing the lookup.
options:
  _terms:
    description: Directories searched before the collection's own profiles (hostperf_profile_paths).
    type: list
    elements: path
    required: false
"""

EXAMPLES = r"""
- name: List the profiles
  ansible.builtin.debug:
    msg: "{{ query('hostperf.tuning.profiles', *hostperf_profile_paths) | map(attribute='name') | list }}"
"""

RETURN = r"""
_raw:
  description: One entry per profile, by name, with C(name), C(summary), C(extends), C(path) and C(error) when it
    does not load, C(automatic) (whether C(hostperf_profile=auto) may choose it) and C(line), all of it in one line.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.hostperf.tuning.plugins.plugin_utils.profiles import ProfileError, profile_listing


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        try:
            return profile_listing(list(terms))
        except ProfileError as exc:
            raise AnsibleLookupError("profiles: %s" % exc)
