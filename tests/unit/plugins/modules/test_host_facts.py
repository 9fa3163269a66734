"""host_facts and detect.yml through Ansible itself, against fixture hosts."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

BIN = os.path.dirname(sys.executable)


def ansible_env(tmp_path):
    import ansible_collections.hostperf.tuning as collection
    collections_root = os.path.dirname(os.path.dirname(os.path.dirname(collection.__path__[0])))
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_root, ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
                ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
                ANSIBLE_DISPLAY_OK_HOSTS="1", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                ANSIBLE_PYTHON_INTERPRETER=sys.executable)


def run_playbook(tmp_path, playbook, extra_vars, check=False):
    command = [os.path.join(BIN, "ansible-playbook"), "-v", "-i", "localhost,", "-c", "local",
               "-e", json.dumps(extra_vars), os.path.join(REPO, playbook)]
    if check:
        command.append("--check")
    proc = subprocess.run(command, env=ansible_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def task_result(output, name):
    """The JSON the default callback printed for localhost in the task called name."""
    header = "TASK [%s]" % name
    assert header in output, output[-2000:]
    section = output.split(header, 1)[1].lstrip("*\n ")
    status = section.split(":", 1)[0]
    body = section[section.index("=> ") + 3:]
    return dict(json.JSONDecoder().raw_decode(body)[0], status=status)


@pytest.mark.parametrize("check", [False, True])
def test_detect_playbook_prints_the_summary(host_root, tmp_path, check):
    root = host_root("dc-2socket")
    output = run_playbook(tmp_path, "playbooks/detect.yml",
                          {"hostperf_detect_hosts": "localhost", "hostperf_detect_root": root}, check=check)
    facts = task_result(output, "Read the host's hardware and kernel settings")
    assert facts["status"] == "ok"
    assert facts["hostperf"]["cpu"]["count"] == 64
    assert facts["ansible_facts"]["hostperf"]["nics"]["ens1f0np0"]["numa_node"] == 1
    lines = task_result(output, "Print the summary")["msg"]
    assert lines[0].startswith("cpu: 64 CPUs, 2 socket(s) x 16 core(s) x 2 thread(s), 2 NUMA node(s)")
    assert any(line.startswith("nic ens1f0np0: mlx5_core 100000Mb/s, up, node1") for line in lines)
    assert lines[-1] == "problems: 0"


def test_capture_option_writes_a_private_file(host_root, tmp_path):
    root = host_root("edge-box")
    capture = tmp_path / "edge.json"
    playbook = tmp_path / "capture.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - hostperf.tuning.host_facts:\n        root: %s\n        capture: %s\n        set_facts: false\n"
        % (root, capture))
    run_playbook(tmp_path, str(playbook), {})
    assert oct(os.stat(str(capture)).st_mode & 0o777) == "0o600"
    data = json.loads(capture.read_text())
    assert data["format"] == "hostperf-capture/1"
    assert "ethtool -g enp2s0" in data["commands"]


def test_bad_subset_is_refused(tmp_path):
    playbook = tmp_path / "bad.yml"
    playbook.write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                        "    - hostperf.tuning.host_facts:\n        gather_subset: [disks]\n")
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)],
                          env=ansible_env(tmp_path), stdout=subprocess.PIPE, universal_newlines=True, check=False)
    assert proc.returncode != 0
    assert "gather_subset" in proc.stdout and "disks" in proc.stdout
