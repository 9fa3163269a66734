"""The history modules through ansible-playbook on the controller: history records, history_info only reads."""

import json
import os
import subprocess
import sys

from conftest import ansible_env

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - hostperf.tuning.history: {path: "%(db)s", event: start, playbook: it.yml}
      register: opened
    - hostperf.tuning.history: {path: "%(db)s", event: host, run: "{{ opened.run }}", outcome: kept, wave: 1}
    - hostperf.tuning.history: {path: "%(db)s", event: finish, run: "{{ opened.run }}"}
    - hostperf.tuning.history_info:
        path: "%(db)s"
        sql: SELECT r.status, h.outcome, h.wave FROM runs r JOIN hosts h ON h.run_id = r.id WHERE h.host = ?
        parameters: [localhost]
      register: found
    - ansible.builtin.debug: {msg: "ROWS {{ found.rows | to_json }}"}
"""


def _playbook(tmp_path, text):
    path = tmp_path / "play.yml"
    path.write_text(text % {"db": tmp_path / "history.sqlite"})
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
         str(path)], env=ansible_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True, check=False)


def test_a_run_recorded_then_read_back(tmp_path):
    proc = _playbook(tmp_path, PLAYBOOK)
    assert proc.returncode == 0, proc.stdout[-3000:]
    rows = json.loads(proc.stdout.split("ROWS ", 1)[1].split('"\n', 1)[0].replace('\\"', '"'))
    assert rows == [{"status": "finished", "outcome": "kept", "wave": 1}]


def test_a_host_event_without_its_outcome_is_refused(tmp_path):
    proc = _playbook(tmp_path, "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                               "    - hostperf.tuning.history: {path: \"%(db)s\", event: host, run: r1}\n")
    assert proc.returncode != 0 and "event is host but all of the following are missing: outcome" in proc.stdout
    assert not (tmp_path / "history.sqlite").exists()


def test_history_info_never_writes(tmp_path):
    assert _playbook(tmp_path, PLAYBOOK).returncode == 0
    proc = _playbook(tmp_path, "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                               "    - hostperf.tuning.history_info: {path: \"%(db)s\", sql: DELETE FROM hosts}\n")
    assert proc.returncode != 0 and "not authorized" in proc.stdout
