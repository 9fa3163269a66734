"""playbooks/plan.yml on this machine: detect, plan on the controller, print, write JSON. Changes nothing."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="detection reads root-only files")


def test_plan_playbook_prints_and_writes_the_plan(tmp_path):
    import ansible_collections.hostperf.tuning as collection
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.dirname(os.path.dirname(collection.__path__[0])),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_NOCOLOR="1")
    before = open("/proc/sys/net/ipv4/tcp_rmem").read()
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", json.dumps({"hostperf_profile": "edge", "hostperf_plan_dir": str(tmp_path / "plans"),
                           "ansible_python_interpreter": sys.executable,
                           "hostperf_overrides": {"sysctl:vm.swappiness": 33}}),
         os.path.join(REPO, "playbooks", "plan.yml")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "profile edge:" in proc.stdout and "sysctl:vm.swappiness: " in proc.stdout
    plan = json.load(open(str(tmp_path / "plans" / "localhost.json")))
    assert plan["profile"] == "edge" and plan["errors"] == []
    assert plan["settings"]["sysctl:vm.swappiness"] == 33
    assert open("/proc/sys/net/ipv4/tcp_rmem").read() == before
