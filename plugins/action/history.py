# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostperf.tuning.history runs on the controller: the history file lives there, not on the hosts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.hostperf.tuning.plugins.plugin_utils.history import (
    OUTCOMES, History, HistoryError, check_writable, new_run_id)

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    event=dict(type="str", required=True, choices=["start", "host", "finish"]),
    run=dict(type="str"),
    playbook=dict(type="str"),
    alpha=dict(type="float"),
    min_effect=dict(type="float"),
    host=dict(type="str"),
    outcome=dict(type="str", choices=list(OUTCOMES)),
    profile=dict(type="str"),
    wave=dict(type="int"),
    transaction=dict(type="str"),
    reason=dict(type="str"),
    settings=dict(type="list", elements="dict", default=[]),
    baseline=dict(type="dict"),
    after=dict(type="dict"),
    comparison=dict(type="dict"),
    status=dict(type="str", default="finished"),
    summary=dict(type="raw"),
)
REQUIRED_IF = [["event", "host", ["run", "outcome"]], ["event", "finish", ["run"]]]


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF)
        result["changed"] = False
        run_id = args["run"] or new_run_id()
        result["run"] = run_id
        if self._task.check_mode:
            try:
                check_writable(args["path"])
            except HistoryError as exc:
                raise AnsibleActionFail(str(exc))
            result["msg"] = "check mode: nothing recorded"
            return result
        try:
            history = History(args["path"])
            if args["event"] == "start":
                history.start_run(run_id, args["playbook"], args["alpha"], args["min_effect"])
            elif args["event"] == "finish":
                history.finish_run(run_id, args["status"], args["summary"])
            else:
                history.record_host(run_id, args["host"] or task_vars.get("inventory_hostname"), args["outcome"],
                                    args["profile"], args["wave"], args["transaction"], args["reason"],
                                    args["settings"], args["baseline"], args["after"], args["comparison"])
            history.close()
        except HistoryError as exc:
            raise AnsibleActionFail(str(exc))
        result["changed"] = True
        return result
