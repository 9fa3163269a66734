"""On real kernels: tuned values live and persisted after converge; all back after the rollback."""

import datetime
import json

import pytest

TUNED = {
    "lab-datacenter": {"net.core.rmem_max": "67108864", "net.ipv4.tcp_wmem": "4096 16384 67108864",
                       "net.core.netdev_max_backlog": "16384", "vm.swappiness": "10",
                       "net.ipv4.tcp_congestion_control": "bbr", "net.core.default_qdisc": "fq"},
    # the edge VM's values come from its plan (test_planned_values_are_live), these must be among them
    "lab-edge": {"net.ipv4.tcp_slow_start_after_idle": "0", "vm.dirty_ratio": "10",
                 "net.ipv4.tcp_congestion_control": "bbr", "net.core.default_qdisc": "fq"},
}
DISKS = {"lab-datacenter": ("nvme", {"scheduler": "none", "read_ahead_kb": 256, "nr_requests": 64}),
         "lab-edge": ("hdd", {"scheduler": "bfq", "read_ahead_kb": 4096})}
# The e1000e behind NUMA node 1 of the datacenter VM (inventories/lab/group_vars/datacenter.yml).
E1000E = "enp130s0"
IRQ_FILES = ["/etc/hostperf-tuning/irq-affinity.conf", "/usr/local/libexec/hostperf-tuning-irq-affinity",
             "/etc/systemd/system/hostperf-tuning-irq-affinity.service",
             "/etc/systemd/system/multi-user.target.d/90-hostperf-tuning-irq-affinity.conf",
             "/etc/systemd/system/irqbalance.service.d/90-hostperf-tuning.conf"]


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
    loaded = "tcp_bbr " in host.file("/proc/modules").content_string
    if not rolled_back(host):
        assert loaded
    elif loaded:
        # connections made while bbr was the default hold it; the rollback says so and leaves it to unload
        assert int(host.file("/sys/module/tcp_bbr/refcnt").content_string) > 0


def root_qdiscs(host):
    """{interface: (root kind, root handle, the kinds under it)} as the kernel shows them now."""
    roots = {}
    for entry in json.loads(host.check_output("tc -j qdisc show")):
        if entry["kind"] in ("ingress", "clsact"):
            continue
        kind, handle, leaves = roots.get(entry["dev"], (None, None, []))
        if entry.get("root"):
            kind, handle = entry["kind"], entry["handle"]
        else:
            leaves = leaves + [(entry["kind"], entry["handle"])]
        roots[entry["dev"]] = (kind, handle, leaves)
    return roots


def test_root_qdiscs_are_what_a_boot_gives(host):
    """Interfaces up before default_qdisc was set run fq like after a boot; a configured root (the edge's netem
    WAN) is left alone; the rollback puts each root back."""
    before = pristine(host)["kernel"]["root_qdiscs"]
    now = root_qdiscs(host)
    attached = [dev for dev, state in before.items() if state not in ("noop", "noqueue")
                and not state.startswith("configured")]
    assert attached, before
    for dev, state in before.items():
        kind, handle, leaves = now[dev]
        if state.startswith("configured"):
            assert "%s %s" % (kind, handle) == state.split(": ", 1)[1], dev
            continue
        if dev not in attached:
            continue
        queues = [leaf for leaf, dummy in leaves] if kind == "mq" else [kind]
        assert handle == "0:" and all(leaf_handle == "0:" for dummy, leaf_handle in leaves), (dev, now[dev])
        assert set(queues) == {state if rolled_back(host) else "fq"}, (dev, now[dev])


def is_datacenter(host):
    return name(host) == "lab-datacenter"


def ethtool_current(host, flag, key):
    text = host.check_output("ethtool %s %s", flag, E1000E)
    if flag == "-g":
        text = text.split("Current hardware settings:")[1]
    for line in text.splitlines():
        if line.split(":")[0].strip() == key:
            return line.split(":")[1].strip()
    raise AssertionError("%s not in ethtool %s output" % (key, flag))


def booted_at(host):
    btime = [line.split()[1] for line in host.file("/proc/stat").content_string.splitlines()
             if line.startswith("btime ")]
    return datetime.datetime.fromtimestamp(int(btime[0]))


def nic_irqs(host):
    irqs = {}
    for line in host.file("/proc/interrupts").content_string.splitlines()[1:]:
        fields = line.split()
        if fields and fields[0].rstrip(":").isdigit() and fields[-1].startswith(E1000E):
            irqs[fields[-1]] = int(fields[0].rstrip(":"))
    return irqs


def test_nic_rings_and_coalescing(host):
    if not is_datacenter(host):
        pytest.skip("the e1000e with settings is the datacenter VM's")
    nic = pristine(host)["nics"][E1000E]
    expected = {"RX": str(nic["rings"]["rx"]["current"]), "TX": str(nic["rings"]["tx"]["current"]),
                "rx-usecs": str(nic["coalesce"]["rx_usecs"])} if rolled_back(host) else {
        "RX": "1024", "TX": "1024", "rx-usecs": "50"}
    assert {"RX": ethtool_current(host, "-g", "RX"), "TX": ethtool_current(host, "-g", "TX"),
            "rx-usecs": ethtool_current(host, "-c", "rx-usecs")} == expected
    rules = host.file("/etc/udev/rules.d/90-hostperf-tuning-net.rules")
    assert rules.exists != rolled_back(host)
    if not rolled_back(host):
        assert 'ATTR{address}=="%s"' % nic["mac"] in rules.content_string


def test_nic_irqs_on_its_own_numa_node_and_irqbalance_leaves_them(host):
    if not is_datacenter(host):
        pytest.skip("the NUMA-local NIC is the datacenter VM's")
    facts = pristine(host)["nics"][E1000E]
    assert facts["numa_node"] == 1 and facts["local_cpus"] == "2-3"
    irqs = nic_irqs(host)
    assert len(irqs) == 3, irqs  # rx, tx and link vectors
    daemon = host.process.get(comm="irqbalance")
    assert ("--policyscript=/usr/local/libexec/hostperf-tuning-irq-affinity" in daemon.args) != rolled_back(host)
    for path in IRQ_FILES:
        assert host.file(path).exists != rolled_back(host), path
    unit = host.check_output("systemctl show -p ActiveState --value hostperf-tuning-irq-affinity.service")
    if rolled_back(host):
        assert unit == "inactive", "a unit the rollback removed is stopped too"
        return
    if host.file(IRQ_FILES[2]).mtime < booted_at(host):
        # installed before this boot: the boot ran it, and it succeeded (the apply itself does not start it)
        assert unit == "active"
    affinity = {irq_name: host.file("/proc/irq/%d/smp_affinity_list" % irq).content_string.strip()
                for irq_name, irq in irqs.items()}
    assert affinity == {E1000E + "-rx-0": "2", E1000E + "-tx-0": "2", E1000E: "2-3"}
    # irqbalance asks the helper about each IRQ: ours are banned, others are not
    helper = IRQ_FILES[1]
    assert host.check_output("%s /sys %s", helper, str(irqs[E1000E + "-rx-0"])) == "ban=true"
    assert host.check_output("%s /sys %s", helper, "1") == ""


RECOVERY_FILES = ["/usr/local/libexec/hostperf-tuning-boot-recovery",
                  "/etc/systemd/system/hostperf-tuning-boot-recovery.service",
                  "/etc/systemd/system/sysinit.target.d/90-hostperf-tuning-boot-recovery.conf"]


def test_boot_recovery_is_armed_while_tuned_and_runs_early_in_the_boot(host):
    for path in RECOVERY_FILES:
        assert host.file(path).exists != rolled_back(host), path
    state = [host.check_output("systemctl show -p %s --value hostperf-tuning-boot-recovery.service", prop)
             for prop in ("ActiveState", "Result")]
    if rolled_back(host):
        assert state == ["inactive", "success"]
        return
    boot_log = host.check_output("journalctl -b -q --no-pager -o cat")
    assert "ordering cycle" not in boot_log.lower()
    if host.file(RECOVERY_FILES[1]).mtime < booted_at(host):
        assert state == ["active", "success"], "the boot ran it, and it found nothing to put back"
        order = host.check_output("systemctl show -p Before --value hostperf-tuning-boot-recovery.service")
        assert "systemd-sysctl.service" in order.split() and "systemd-udev-trigger.service" in order.split()


def test_sshd_pinned_live_without_a_restart(host):
    if not is_datacenter(host):
        pytest.skip("the pinned service is the datacenter VM's")
    main_pid = host.check_output("systemctl show -p MainPID --value ssh.service")
    allowed = [line.split(":")[1].strip() for line in host.file("/proc/%s/status" % main_pid).content_string
               .splitlines() if line.startswith("Cpus_allowed_list:")]
    assert allowed == (["0-3"] if rolled_back(host) else ["0-1"])
    dropin = host.file("/etc/systemd/system/ssh.service.d/90-hostperf-tuning-cpus.conf")
    assert dropin.exists != rolled_back(host)
    assert host.file("/etc/systemd/system/ssh.service.d").exists != rolled_back(host)
    # systemd itself has loaded the drop-in (daemon-reload ran) and was not restarted to get it
    assert host.check_output("systemctl show -p CPUAffinity --value ssh.service") == (
        "" if rolled_back(host) else "0-1")


# inventories/lab/group_vars/datacenter.yml: hostperf_lab_boot_overrides, which converge.yml adds
BOOT_PARAMETERS = {"transparent_hugepage=madvise", "nowatchdog"}


def test_kernel_command_line_through_grub(host):
    """The parameters reach grub.cfg through update-grub, the next boot through GRUB, and leave both again."""
    if not is_datacenter(host):
        pytest.skip("the datacenter VM boots through GRUB")
    grub = host.file("/boot/grub/grub.cfg").content_string
    ours = [line.strip() for line in grub.splitlines() if line.strip().startswith("set hostperf_args=")]
    if rolled_back(host):
        assert ours == [] and "hostperf_args" not in grub
    else:
        assert len(ours) == 1 and set(ours[0].split("=", 1)[1].strip("'").split()) == BOOT_PARAMETERS, ours
    running = host.file("/proc/cmdline").content_string.split()
    before = host.file("/var/lib/hostperf-molecule/pristine-cmdline.txt").content_string.split()
    assert any(word.startswith("BOOT_IMAGE=") for word in before), "the VM booted through GRUB"
    booted = host.file("/var/lib/hostperf-molecule/booted-phase")
    if not booted.exists or booted.content_string.strip() == "rolled_back":
        assert running == before, "no boot since the change (or the rollback's boot): the pristine command line"
        return
    assert running[:len(before)] == before and set(running[len(before):]) == BOOT_PARAMETERS, running
    # the kernel took them
    assert "[madvise]" in host.file("/sys/kernel/mm/transparent_hugepage/enabled").content_string
    assert host.file("/proc/sys/kernel/watchdog").content_string.strip() == "0"


def outcome(host):
    found = host.file("/var/lib/hostperf-molecule/outcome.json")
    if not found.exists:
        pytest.skip("playbooks/tune.yml has not run yet")
    return json.loads(found.content_string)


def test_files_are_byte_for_byte_pristine_after_a_rollback(host):
    if not rolled_back(host):
        pytest.skip("the host is tuned")
    now = host.check_output("python3 /var/lib/hostperf-molecule/listing.py")
    assert now.strip() == host.file("/var/lib/hostperf-molecule/pristine-files.txt").content_string.strip()


def test_edge_is_kept_faster_and_the_harmful_override_rolled_back(host):
    result = outcome(host)
    metrics = dict((item["metric"], item) for item in result["metrics"])
    if is_datacenter(host):
        assert (result["outcome"], result["verdict"]) == ("rolled_back", "regressed"), result["reason"]
        assert metrics["hub.throughput"]["after_median"] < 0.9 * metrics["hub.throughput"]["baseline_median"]
        assert rolled_back(host)
    else:
        assert (result["outcome"], result["verdict"]) == ("kept", "improved"), result["reason"]
        assert metrics["wan.throughput"]["after_median"] > 1.1 * metrics["wan.throughput"]["baseline_median"]
        assert not rolled_back(host)
        changed = [item["identity"] for item in result["changed"]]
        assert "sysctl:net.ipv4.tcp_congestion_control" in changed


def test_planned_values_are_live(host):
    """The edge VM is tuned from the edge profile's plan: every planned sysctl and queue value is what it has."""
    plan_file = host.file("/var/lib/hostperf-molecule/plan.json")
    if not plan_file.exists:
        pytest.skip("this VM is tuned by explicit settings, not a profile")
    plan = json.loads(plan_file.content_string)
    assert plan["profile"] == "edge" and plan["errors"] == []
    before = pristine(host)
    checked = 0
    for identity, value in plan["settings"].items():
        kind, dummy, name = identity.partition(":")
        if kind == "sysctl":
            expected = before["kernel"]["sysctl"].get(name) if rolled_back(host) else " ".join(str(value).split())
            if expected is not None:
                assert sysctl(host, name) == " ".join(str(expected).split()), identity
                checked += 1
        elif kind == "block" and not identity.endswith(":scheduler"):
            disk, attribute = name.split(":")
            expected = before["block"][disk][attribute] if rolled_back(host) else value
            assert host.file("/sys/block/%s/queue/%s" % (disk, attribute)).content_string.strip() == str(expected)
            checked += 1
    assert checked >= 8, plan["settings"]
