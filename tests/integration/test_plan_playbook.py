"""playbooks/plan.yml on this machine: detect, plan on the controller, print, write JSON. Changes nothing."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, ansible_env

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="detection reads root-only files")


def plan_playbook(tmp_path, overrides):
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", json.dumps({"hostperf_profile": "edge", "hostperf_output_dir": str(tmp_path / "out"),
                           "ansible_python_interpreter": sys.executable, "hostperf_overrides": overrides}),
         os.path.join(REPO, "playbooks", "plan.yml")],
        env=ansible_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
        check=False)


def test_plan_playbook_prints_and_writes_the_plan(tmp_path):
    before = open("/proc/sys/net/ipv4/tcp_rmem").read()
    proc = plan_playbook(tmp_path, {"sysctl:vm.swappiness": 33})
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "profile edge:" in proc.stdout and "sysctl:vm.swappiness: " in proc.stdout
    plan = json.load(open(str(tmp_path / "out" / "plans" / "localhost.edge.json")))
    assert plan["profile"] == "edge" and plan["errors"] == []
    assert plan["settings"]["sysctl:vm.swappiness"] == 33
    assert open("/proc/sys/net/ipv4/tcp_rmem").read() == before


def test_what_only_the_host_can_refuse_stops_the_plan_before_any_change(tmp_path):
    proc = plan_playbook(tmp_path, {"sysctl:net.core.no_such_key": 1})
    assert proc.returncode != 0
    assert "net.core.no_such_key" in proc.stdout and "unknown key" in proc.stdout


def test_import_tuned_writes_a_profile_the_planner_loads(tmp_path):
    from ansible_collections.hostperf.tuning.plugins.plugin_utils.profiles import load_profile
    (tmp_path / "tuned" / "web").mkdir(parents=True)
    (tmp_path / "tuned" / "web" / "tuned.conf").write_text(
        "[main]\nsummary=Web tier\n[sysctl]\nnet.core.somaxconn=>8192\n[vm]\ntransparent_hugepages=never\n"
        "[bootloader]\ncmdline=mitigations=off\n")
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
         "-e", json.dumps({"tuned_profile": "web", "hostperf_tuned_dirs": [str(tmp_path / "tuned")],
                           "hostperf_profile_dir": str(tmp_path / "profiles")}),
         "hostperf.tuning.import_tuned"],
        env=ansible_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
        check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    text = (tmp_path / "profiles" / "web.yml").read_text()
    assert "[bootloader] cmdline=mitigations=off" in text
    profile = load_profile("web", [str(tmp_path / "profiles")])
    assert profile["thp"] == {"enabled": "never"}
    assert profile["sysctl"]["net.core.somaxconn"]["value"] == ">8192"
