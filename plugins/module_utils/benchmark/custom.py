# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The user's own benchmark: any command that prints a number, or JSON of named numbers.

This is how a team gates on its application's benchmark instead of ours.
The command is an argument list, run without a shell.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.suite import (
    Suite, TrialFailed, last_line, metric, number)


class CustomSuite(Suite):
    """command prints one number (metric "value"), or a JSON object {metric: number or {value, unit, better}}.

    {duration} in an argument is replaced by the trial's duration in seconds.
    """

    kind = "custom"
    options = dict(command=("list", None), unit=("str", ""), better=(("higher", "lower"), "higher"),
                   timeout=("int", 600), cpu_bound=("bool", False))

    def check(self):
        command = self.params["command"]
        if not isinstance(command, list) or not command or not all(isinstance(arg, str) for arg in command):
            self.fail("command must be a non-empty list of strings (argv, no shell)")
        self.tools = (command[0],)
        self.declared = {}

    def metric_specs(self):
        return self.declared or dict(value=metric(self.params["unit"], self.params["better"],
                                                  cpu_bound=self.params["cpu_bound"]))

    def argv(self, tool, duration):
        return [arg.replace("{duration}", str(duration)) for arg in self.params["command"]]

    def timeout(self, duration):
        return self.params["timeout"]

    def parse(self, tool, result):
        if not result.ok:
            raise TrialFailed("%s exited with %d: %s" % (tool, result.rc, last_line(result)))
        text = (result.stdout or "").strip()
        try:
            report = json.loads(text)
        except ValueError:
            return dict(value=number(text.splitlines()[-1] if text else "", tool))
        if isinstance(report, (int, float)) and not isinstance(report, bool):
            return dict(value=number(report, tool))
        if not isinstance(report, dict) or not report:
            raise TrialFailed("%s printed JSON that is neither a number nor an object of numbers" % tool)
        values = {}
        for name, item in report.items():
            spec = item if isinstance(item, dict) else {"value": item}
            if spec.get("better", "higher") not in ("higher", "lower"):
                raise TrialFailed("%s: metric %s says better is %r, not higher or lower" % (tool, name, spec["better"]))
            values[name] = number(spec.get("value"), "%s: %s" % (tool, name))
            self.declared.setdefault(name, metric(spec.get("unit", self.params["unit"]),
                                                  spec.get("better", self.params["better"]), spec.get("gate", True),
                                                  spec.get("cpu_bound", self.params["cpu_bound"]) is True))
        return values
