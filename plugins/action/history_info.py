# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostperf.tuning.history_info reads on the controller, where the history file lives."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.hostperf.tuning.plugins.plugin_utils.history import History, HistoryError

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    sql=dict(type="str", required=True),
    parameters=dict(type="list", elements="raw", default=[]),
    max_rows=dict(type="int", default=10000),
    timeout=dict(type="float", default=60.0),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        for name, most in (("max_rows", 1000000), ("timeout", 3600)):
            if not 0 < args[name] <= most:
                raise AnsibleActionFail("%s %r: must be more than 0 and at most %d" % (name, args[name], most))
        try:
            history = History(args["path"], readonly=True)
            result["rows"] = history.query(args["sql"], args["parameters"], args["max_rows"], args["timeout"])
            history.close()
        except HistoryError as exc:
            raise AnsibleActionFail(str(exc))
        result["changed"] = False
        return result
