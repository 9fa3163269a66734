"""hostperf.tuning.tune and rollback through ansible-playbook on this machine's real kernel.

net.* keys change inside a network namespace the test makes; block settings
on a loop device the test makes; one global vm.* key is put back in teardown
even when the test fails. /etc writes land in a throwaway overlay.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, ansible_env

BIN = os.path.dirname(sys.executable)
ISOLATED = os.path.join(REPO, "tests", "integration", "isolated-etc.sh")
PLAYBOOK = os.path.join(REPO, "tests", "integration", "playbooks", "tune_and_rollback.yml")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="changes the real kernel: needs root"),
    pytest.mark.skipif(not all(shutil.which(tool) for tool in ("ip", "unshare", "losetup")),
                       reason="needs ip, unshare and losetup"),
]


def run(tmp_path, extra_vars, prefix=(), playbook=PLAYBOOK, expect_ok=True, options=()):
    command = list(prefix) + [ISOLATED, str(tmp_path / "etc-overlay"), os.path.join(BIN, "ansible-playbook"),
                              "-i", "localhost,", "-c", "local", "-e", json.dumps(extra_vars)] + list(options) + [
                                  playbook]
    proc = subprocess.run(command, env=ansible_env(tmp_path, ANSIBLE_PYTHON_INTERPRETER=sys.executable), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    if expect_ok:
        assert proc.returncode == 0, proc.stdout[-6000:]
    return proc


def read(path):
    with open(path) as handle:
        return handle.read().strip()


def write(path, value):
    with open(path, "w") as handle:
        handle.write(value)


def _remove_namespaces_of_dead_runs():
    """A run killed outright (SIGKILL, a lost machine) cannot clean up: the next one does."""
    for name in os.listdir("/run/netns") if os.path.isdir("/run/netns") else ():
        pid = name[len("hostperf-it-"):]
        if name.startswith("hostperf-it-") and pid.isdigit() and not os.path.exists("/proc/" + pid):
            subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.fixture
def netns():
    _remove_namespaces_of_dead_runs()
    name = "hostperf-it-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.fixture
def veth(netns):
    """A veth pair inside the test's namespace: real offloads and channels, no rings (the driver says so)."""
    subprocess.run(["ip", "-n", netns, "link", "add", "hp0", "type", "veth", "peer", "name", "hp1"], check=True)
    subprocess.run(["ip", "-n", netns, "link", "set", "hp0", "up"], check=True)
    return netns, "hp0"


def in_netns(netns, *argv):
    return subprocess.run(["ip", "netns", "exec", netns] + list(argv), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False).stdout


@pytest.fixture
def loop_device(tmp_path):
    backing = tmp_path / "disk.img"
    with open(str(backing), "wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    device = subprocess.run(["losetup", "--find", "--show", str(backing)], check=True, stdout=subprocess.PIPE,
                            universal_newlines=True).stdout.strip()
    name = os.path.basename(device)
    queue = "/sys/block/%s/queue/" % name
    saved = {attr: read(queue + attr) for attr in ("nr_requests", "read_ahead_kb")}
    scheduler = read(queue + "scheduler").split("[")[1].split("]")[0]
    try:
        yield name
    finally:
        try:
            write(queue + "scheduler", scheduler)
            for attr, value in saved.items():
                write(queue + attr, value)
        finally:
            subprocess.run(["losetup", "--detach", device], check=False)


def _kept(path, restore=lambda saved: saved):
    """(path, its value now), written back whatever the test does."""
    saved = read(path)
    try:
        yield path, saved
    finally:
        write(path, restore(saved))


def _chosen(choices):
    """The bracketed word of a sysfs choice file's text."""
    return choices[choices.index("[") + 1:choices.index("]")]


@pytest.fixture
def global_vm_key():
    yield from _kept("/proc/sys/vm/dirty_writeback_centisecs")


def test_net_sysctls_in_a_namespace(tmp_path, netns):
    run(tmp_path, {
        "hostperf_it_tune": {"settings": {"sysctl:net.core.somaxconn": 1000,
                                          "sysctl:net.ipv4.tcp_rmem": [4096, 65536, 8388608],
                                          "sysctl:net.ipv4.tcp_slow_start_after_idle": 0},
                             "tcp_congestion_control": "reno", "default_qdisc": "fq"},
        "hostperf_it_live": {"/proc/sys/net/core/somaxconn": "1000",
                             "/proc/sys/net/ipv4/tcp_rmem": "4096 65536 8388608",
                             "/proc/sys/net/ipv4/tcp_slow_start_after_idle": "0",
                             "/proc/sys/net/ipv4/tcp_congestion_control": "reno"},
        "hostperf_it_files": ["/etc/sysctl.d/90-hostperf-tuning.conf"],
        "hostperf_it_journal": str(tmp_path / "journal"),
    }, prefix=["ip", "netns", "exec", netns])


def test_block_queue_on_a_loop_device(tmp_path, loop_device):
    queue = "/sys/block/%s/queue/" % loop_device
    offered = read(queue + "scheduler").replace("[", "").replace("]", "").split()
    target = [name for name in ("mq-deadline", "bfq", "kyber") if name in offered][0]
    run(tmp_path, {
        "hostperf_it_tune": {"block": [{"device": loop_device, "scheduler": target, "nr_requests": 32,
                                        "read_ahead_kb": 1024}]},
        "hostperf_it_live": {queue + "nr_requests": "32", queue + "read_ahead_kb": "1024"},
        "hostperf_it_files": ["/etc/udev/rules.d/90-hostperf-tuning-block.rules"],
        "hostperf_it_journal": str(tmp_path / "journal"),
    })
    assert "[%s]" % target not in read(queue + "scheduler")


def test_a_switch_out_of_mq_deadline_and_back_gives_it_its_tunables_and_wbt(tmp_path, loop_device):
    """Kernel 6.18: a switch discards mq-deadline's tunables and bfq turns a default wbt off; the rollback puts
    back both. (A loop device's wbt written once stays on under bfq until reboot: loop is built in here.) A kernel
    built without bfq (this project's sandboxes have run both) switches to kyber, which discards them the same."""
    queue = "/sys/block/%s/queue/" % loop_device

    def offered():
        return read(queue + "scheduler").replace("[", "").replace("]", "").split()
    if not {"mq-deadline", "bfq"} <= set(offered()):
        subprocess.run(["modprobe", "-a", "mq-deadline", "bfq"], check=False)
    assert "mq-deadline" in offered(), "the kernel offers no mq-deadline: %s" % offered()
    target = "bfq" if "bfq" in offered() else "kyber"
    write(queue + "scheduler", "mq-deadline")
    write(queue + "iosched/fifo_batch", "32")  # an operator's, before the collection came
    wbt = read(queue + "wbt_lat_usec")
    run(tmp_path, {
        "hostperf_it_tune": {"settings": {"block:%s:scheduler" % loop_device: target}},
        "hostperf_it_live": {queue + "scheduler": " ".join("[%s]" % name if name == target else name
                                                           for name in offered())},
        "hostperf_it_files": ["/etc/udev/rules.d/90-hostperf-tuning-block.rules"],
        "hostperf_it_journal": str(tmp_path / "journal"),
    })
    assert (read(queue + "iosched/fifo_batch"), read(queue + "wbt_lat_usec")) == ("32", wbt)


def test_global_vm_key_is_put_back(tmp_path, global_vm_key):
    path, saved = global_vm_key
    value = "1500" if saved != "1500" else "1400"
    run(tmp_path, {
        "hostperf_it_tune": {"settings": {"sysctl:vm.dirty_writeback_centisecs": int(value)}},
        "hostperf_it_live": {path: value},
        "hostperf_it_files": ["/etc/sysctl.d/90-hostperf-tuning.conf"],
        "hostperf_it_journal": str(tmp_path / "journal"),
    })
    assert read(path) == saved


@pytest.fixture
def thp_defrag():
    yield from _kept("/sys/kernel/mm/transparent_hugepage/defrag", _chosen)


def test_transparent_huge_page_mode_is_set_persisted_and_put_back(tmp_path, thp_defrag):
    """The kind issue 13 added through one knob file and one rule, on the real kernel."""
    path, saved = thp_defrag
    target = "defer" if _chosen(saved) != "defer" else "never"
    live = " ".join("[%s]" % word if word == target else word for word in saved.replace("[", "").replace("]", "").split())
    run(tmp_path, {
        "hostperf_it_tune": {"settings": {"thp:defrag": target}},
        "hostperf_it_live": {path: live},
        "hostperf_it_files": ["/etc/tmpfiles.d/hostperf-tuning-thp.conf"],
        "hostperf_it_journal": str(tmp_path / "journal"),
    })
    assert read(path) == saved


def test_kernel_refusal_through_ansible_rolls_everything_back(tmp_path, netns):
    """ip_local_port_range passes validation (two ports) but the kernel refuses low > high."""
    playbook = tmp_path / "refused.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - hostperf.tuning.tune:\n        journal_dir: %s\n        settings:\n"
        "          sysctl:net.core.somaxconn: 777\n          sysctl:net.ipv4.ip_local_port_range: '60000 50000'\n"
        % (tmp_path / "journal"))
    before = subprocess.run(["ip", "netns", "exec", netns, "cat", "/proc/sys/net/core/somaxconn"],
                            stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    proc = run(tmp_path, {}, prefix=["ip", "netns", "exec", netns], playbook=str(playbook), expect_ok=False)
    assert proc.returncode != 0
    assert "apply failed, every change was rolled back" in proc.stdout
    assert "net.ipv4.ip_local_port_range: the kernel refused '60000 50000': Invalid argument" in proc.stdout
    after = subprocess.run(["ip", "netns", "exec", netns, "cat", "/proc/sys/net/core/somaxconn"],
                           stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    assert after == before


def test_congestion_control_not_allowed_in_a_namespace_is_a_note_and_changes_nothing(tmp_path, netns):
    """A selector is fleet-wide: a container's namespace that may not use the algorithm keeps its own, and says so."""
    playbook = tmp_path / "not-allowed.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - hostperf.tuning.tune:\n        journal_dir: %s\n        tcp_congestion_control: cubic\n"
        "      register: answer\n    - ansible.builtin.debug:\n        var: answer.notes\n"
        % (tmp_path / "journal"))
    with open("/proc/sys/net/ipv4/tcp_allowed_congestion_control") as handle:
        if "cubic" in handle.read().split():
            pytest.skip("cubic is allowed in namespaces on this kernel")
    proc = run(tmp_path, {}, prefix=["ip", "netns", "exec", netns], playbook=str(playbook))
    assert "tcp_congestion_control cubic: not allowed in this network namespace" in proc.stdout
    assert "changed=0" in proc.stdout
    assert not (tmp_path / "journal" / "transactions").exists() or not os.listdir(
        str(tmp_path / "journal" / "transactions"))


def test_nic_settings_on_a_veth_pair(tmp_path, veth):
    netns, name = veth
    base = "/sys/class/net/%s/" % name
    features_before = in_netns(netns, "ethtool", "-k", name)
    channels_before = in_netns(netns, "ethtool", "-l", name)
    assert "rx-checksumming" in features_before
    run(tmp_path, {
        "hostperf_it_tune": {"nic": [{"interface": name, "mtu": 9000, "txqueuelen": 5000, "rps": "0",
                                      "features": {"gro": "off", "tx": "off"}, "channels": {"rx": "max"}}]},
        "hostperf_it_live": {base + "mtu": "9000", base + "tx_queue_len": "5000"},
        "hostperf_it_files": ["/etc/udev/rules.d/90-hostperf-tuning-net.rules"],
        "hostperf_it_journal": str(tmp_path / "journal"),
    }, prefix=["ip", "netns", "exec", netns])
    assert in_netns(netns, "ethtool", "-k", name) == features_before
    assert in_netns(netns, "ethtool", "-l", name) == channels_before


def test_veth_rings_are_refused_before_any_change(tmp_path, veth):
    netns, name = veth
    playbook = tmp_path / "rings.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - hostperf.tuning.tune:\n        journal_dir: %s\n        nic:\n"
        "          - {interface: %s, mtu: 4000, rings: {rx: max}}\n" % (tmp_path / "journal", name))
    proc = run(tmp_path, {}, prefix=["ip", "netns", "exec", netns], playbook=str(playbook), expect_ok=False)
    assert "nic hp0: rings rx: the driver does not support it" in proc.stdout
    assert in_netns(netns, "cat", "/sys/class/net/%s/mtu" % name).strip() == "1500"


NODE0_POOL = "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"


@pytest.fixture
def node0_pool():
    if not os.path.exists(NODE0_POOL):
        pytest.fail("this kernel has no per-node 2 MiB huge page pool (%s)" % NODE0_POOL)
    yield from _kept(NODE0_POOL)


def test_huge_pages_reserved_on_a_node_persisted_and_put_back(tmp_path, node0_pool):
    """Two 2 MiB pages on node 0 (4 MiB of this machine's memory, for the seconds the test runs)."""
    path, saved = node0_pool
    target = str(int(saved) + 2)
    run(tmp_path, {
        "hostperf_it_tune": {"settings": {"hugepages:node0:2048kB": target}},
        "hostperf_it_live": {path: target},
        "hostperf_it_files": ["/etc/tmpfiles.d/hostperf-tuning-hugepages.conf"],
        "hostperf_it_journal": str(tmp_path / "journal"),
    })
    assert read(path) == saved


CPU1_RESUME_LATENCY = "/sys/devices/system/cpu/cpu1/power/pm_qos_resume_latency_us"


@pytest.fixture
def cpu1_resume_latency():
    if not os.path.exists(CPU1_RESUME_LATENCY):
        pytest.fail("this kernel has no per-CPU PM QoS resume latency (%s)" % CPU1_RESUME_LATENCY)
    yield from _kept(CPU1_RESUME_LATENCY)


def test_a_cpus_wakeup_latency_is_set_persisted_and_put_back(tmp_path, cpu1_resume_latency):
    path, saved = cpu1_resume_latency
    target = "3" if saved != "3" else "5"
    run(tmp_path, {
        "hostperf_it_tune": {"settings": {"cpu:1:pm_qos_resume_latency_us": target}},
        "hostperf_it_live": {path: target},
        "hostperf_it_files": ["/etc/tmpfiles.d/hostperf-tuning-cpu.conf"],
        "hostperf_it_journal": str(tmp_path / "journal"),
    })
    assert read(path) == saved


def _somaxconn(netns):
    return in_netns(netns, "cat", "/proc/sys/net/core/somaxconn").strip()


def test_drift_playbook_tells_who_changed_a_value_and_repairs_it_as_a_transaction(tmp_path, netns):
    """drift.yml on a real kernel: in sync after a tune, non-zero once a value is changed behind its back, the
    repair's --check --diff shows the change and makes none, the repair is a journaled transaction, and a
    sysctl.d line read after ours is named and not re-asserted."""
    journal = str(tmp_path / "journal")
    playbook = tmp_path / "tune.yml"
    playbook.write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n    - hostperf.tuning.tune:\n"
                        "        journal_dir: %s\n        settings:\n          sysctl:net.core.somaxconn: 1000\n"
                        % journal)
    prefix = ["ip", "netns", "exec", netns]
    drift = os.path.join(REPO, "playbooks", "drift.yml")
    run(tmp_path, {}, prefix=prefix, playbook=str(playbook))
    assert "0 of 1 hosts drifted" in run(tmp_path, {"hostperf_journal_dir": journal}, prefix, drift).stdout

    in_netns(netns, "sysctl", "-q", "-w", "net.core.somaxconn=777")
    proc = run(tmp_path, {"hostperf_journal_dir": journal}, prefix, drift, expect_ok=False)
    assert proc.returncode == 2, proc.stdout[-4000:]
    assert "1 of 1 hosts drifted: localhost" in proc.stdout
    assert "sysctl:net.core.somaxconn: managed '1000', live '777', by unknown" in proc.stdout

    proc = run(tmp_path, {"hostperf_journal_dir": journal, "hostperf_drift_repair": True}, prefix, drift,
               expect_ok=False, options=("--check", "--diff"))
    assert proc.returncode == 2 and "-sysctl:net.core.somaxconn = 777" in proc.stdout, proc.stdout[-4000:]
    assert "+sysctl:net.core.somaxconn = 1000" in proc.stdout and _somaxconn(netns) == "777"

    proc = run(tmp_path, {"hostperf_journal_dir": journal, "hostperf_drift_repair": True}, prefix, drift)
    assert "0 of 1 hosts drifted" in proc.stdout and _somaxconn(netns) == "1000"
    records = sorted(os.listdir(os.path.join(journal, "transactions")))
    with open(os.path.join(journal, "transactions", records[-1])) as handle:
        repair = json.load(handle)
    assert len(records) == 2 and repair["label"] == "drift repair" and repair["settings"][0]["before"] == "777"

    local = tmp_path / "etc-overlay" / "upper" / "sysctl.d"
    local.mkdir(parents=True, exist_ok=True)
    (local / "99-local.conf").write_text("net.core.somaxconn = 777\n")
    in_netns(netns, "sysctl", "-q", "-w", "net.core.somaxconn=777")  # what `sysctl --system` does
    proc = run(tmp_path, {"hostperf_journal_dir": journal, "hostperf_drift_repair": True}, prefix, drift,
               expect_ok=False)
    assert proc.returncode == 2 and _somaxconn(netns) == "777", proc.stdout[-4000:]
    assert "by /etc/sysctl.d/99-local.conf: /etc/sysctl.d/99-local.conf line 1 sets net.core.somaxconn = 777" \
        in proc.stdout
