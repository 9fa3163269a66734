"""On real kernels: tuned values live and persisted after converge; all back after the rollback."""

import json

TUNED = {
    "lab-datacenter": {"net.core.rmem_max": "67108864", "net.ipv4.tcp_rmem": "4096 87380 67108864",
                       "net.core.netdev_max_backlog": "16384", "vm.swappiness": "10",
                       "net.ipv4.tcp_congestion_control": "bbr", "net.core.default_qdisc": "fq"},
    "lab-edge": {"net.ipv4.tcp_rmem": "4096 131072 16777216", "net.ipv4.tcp_slow_start_after_idle": "0",
                 "vm.dirty_ratio": "10", "net.ipv4.tcp_congestion_control": "bbr", "net.core.default_qdisc": "fq"},
}
DISKS = {"lab-datacenter": ("nvme", {"scheduler": "none", "read_ahead_kb": 256, "nr_requests": 64}),
         "lab-edge": ("hdd", {"scheduler": "bfq", "read_ahead_kb": 4096})}


def name(host):
    return host.backend.get_hostname()


def rolled_back(host):
    phase = host.file("/var/lib/hostperf-molecule/phase")
    return phase.exists and phase.content_string.strip() == "rolled_back"


def pristine(host):
    return json.loads(host.file("/var/lib/hostperf-molecule/pristine.json").content_string)


def sysctl(host, key):
    return " ".join(host.file("/proc/sys/" + key.replace(".", "/")).content_string.split())


def test_sysctls(host):
    tuned = TUNED[name(host)]
    if rolled_back(host):
        before = pristine(host)["kernel"]["sysctl"]
        assert {key: sysctl(host, key) for key in tuned} == {key: before[key] for key in tuned}
    else:
        assert {key: sysctl(host, key) for key in tuned} == tuned


def test_block_queues(host):
    klass, wanted = DISKS[name(host)]
    disks = {disk: facts for disk, facts in pristine(host)["block"].items() if facts["class"] == klass}
    assert disks, "the lab VM has a %s disk" % klass
    for disk, facts in disks.items():
        queue = "/sys/block/%s/queue/" % disk
        scheduler = host.file(queue + "scheduler").content_string
        values = {"scheduler": scheduler.split("[")[1].split("]")[0]}
        values.update({attr: int(host.file(queue + attr).content_string) for attr in wanted if attr != "scheduler"})
        expected = {attr: facts[attr] for attr in wanted} if rolled_back(host) else wanted
        assert values == expected


def test_persistence_files(host):
    files = ["/etc/sysctl.d/90-hostperf-tuning.conf", "/etc/udev/rules.d/90-hostperf-tuning-block.rules",
             "/etc/modules-load.d/hostperf-tuning.conf"]
    for path in files:
        assert host.file(path).exists != rolled_back(host), path
    if not rolled_back(host):
        rules = host.file(files[1]).content_string
        assert "KERNEL==" not in rules, "disks are matched by a stable id"
        assert "tcp_bbr" in host.file(files[2]).content_string


def test_bbr_module(host):
    loaded = "tcp_bbr" in host.file("/proc/modules").content_string
    assert loaded != rolled_back(host)
