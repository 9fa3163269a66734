# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CPUs a systemd service runs on ("unit:nginx.service:cpu_affinity").

The live value is the affinity of every task (thread) in the unit's cgroup,
changed with sched_setaffinity, so a running service is re-pinned without a
restart. It persists as a CPUAffinity= drop-in, which systemd applies at the
next start; systemd reloads after the drop-in changes. A task list whose
affinities differ reads as "tid=cpus ..." so a rollback puts each thread back.
A unit that is not running has no live value; only its drop-in changes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import re

from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import CpuListError, format_cpulist, parse_cpulist
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import HEADER, Knob, KnobError, Persistence
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.cpus import cpu_set
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import Grammar
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.scope import OWN
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.service import UNIT_NAME, unit_property
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.values import pairs_of, uniform_or_pairs

DROPIN = "/etc/systemd/system/%s.d/90-hostperf-tuning-cpus.conf"
_DROPIN = re.compile(r"^/etc/systemd/system/([A-Za-z0-9:_.@-]+)\.d/90-hostperf-tuning-cpus\.conf$")
CGROUP_TASKS = ("/sys/fs/cgroup%s/cgroup.threads", "/sys/fs/cgroup/systemd%s/tasks")  # v2, then v1's named tree
NOT_RUNNING = ""


class UnitCpuAffinityKnob(Knob):
    kind = "unit"
    scope = OWN
    grammar = Grammar("unit", ("unit*", "property"), ("unit:nginx.service:cpu_affinity",))
    order = 80

    def __init__(self, tree, name):
        try:
            fields = self.grammar.parse(name)
        except ValueError:
            fields = {"unit": "", "property": ""}
        unit, aspect = fields["unit"], fields["property"]
        if not UNIT_NAME.match(unit) or not unit.endswith(".service") or aspect != "cpu_affinity":
            raise KnobError("unit %r: expected SERVICE.service:cpu_affinity" % (name,))
        Knob.__init__(self, tree, name)
        self.unit = unit

    def validate(self, value):
        if not self.tree.runs_systemd():
            raise KnobError("unit %s: systemd is not running here" % self.unit)
        if unit_property(self.tree, self.unit, "LoadState") != "loaded":
            raise KnobError("unit %s: no such unit" % self.unit)
        return format_cpulist(cpu_set(self.tree, "unit %s: cpu_affinity" % self.unit, value))

    def _tasks(self):
        cgroup = unit_property(self.tree, self.unit, "ControlGroup")
        if not cgroup:
            return []
        for pattern in CGROUP_TASKS:
            text = self.tree.read(pattern % cgroup)
            if text is not None:
                return [task for task in text.split() if task.isdigit()]
        return []

    def _affinity(self, task):
        for line in (self.tree.read("/proc/%s/status" % task) or "").splitlines():
            if line.startswith("Cpus_allowed_list:"):
                return format_cpulist(parse_cpulist(line.split(":", 1)[1]))
        return None

    def read(self):
        affinities = dict((task, self._affinity(task)) for task in self._tasks())
        affinities = dict((task, cpus) for task, cpus in affinities.items() if cpus is not None)
        if not affinities:
            return NOT_RUNNING
        return uniform_or_pairs(affinities, sorted(affinities, key=int))

    def write(self, value):
        if value == NOT_RUNNING:
            return
        tasks = self._tasks()
        per_task = pairs_of(value, tasks)
        for task in tasks:
            cpus = per_task.get(task)
            if cpus is None:
                continue
            try:
                self.tree.set_affinity(task, parse_cpulist(cpus))
            except OSError as exc:
                if exc.errno != errno.ESRCH:  # a thread that ended meanwhile needs no pinning
                    raise

    def equal(self, first, second):
        if NOT_RUNNING in (first, second):
            return True  # nothing runs: only the drop-in says where it will
        try:
            return _normal(first) == _normal(second)
        except (CpuListError, ValueError):
            return first == second


def _normal(value):
    if "=" in value:
        return dict((task, tuple(parse_cpulist(cpus))) for task, cpus in pairs_of(value, ()).items())
    return tuple(parse_cpulist(value))


class UnitDropins(Persistence):
    """One drop-in per unit; systemd reloads after any of them changes."""

    def __init__(self):
        Persistence.__init__(self, None, None, after_change=(["systemctl", "daemon-reload"],))

    def owns(self, path):
        return bool(_DROPIN.match(path))

    def render_files(self, entries):
        files = {}
        for knob, value, dummy in entries:
            files[DROPIN % knob.unit] = HEADER + "[Service]\nCPUAffinity=%s\n" % value
        return files


UnitCpuAffinityKnob.persistence = UnitDropins()
