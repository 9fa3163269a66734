"""NIC knobs on the fixture hosts: what each driver can and cannot change, and exact rollback."""

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.nic import UDEV_RULES_FILE, NicKnob, render_udev
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine

from fakekernel import FakeKernelTree, outside_journal, tree_digest

MLX = "ens1f0np0"


@pytest.fixture
def dc(host_root):
    return FakeKernelTree(host_root("dc-2socket"))


def knob(tree, name):
    return NicKnob.create(tree, name)


def test_ring_values_as_number_max_percentage_or_fraction(dc):
    rx = knob(dc, MLX + ":rings:rx")
    assert rx.read() == "1024"
    assert [rx.validate(value) for value in ("max", "50%", 0.25, 2048, "4096")] == [
        "8192", "4096", "2048", "2048", "4096"]
    with pytest.raises(KnobError, match="rings rx: 9000 is above the driver's maximum 8192"):
        rx.validate(9000)
    with pytest.raises(KnobError, match="rings rx: 0 is below the minimum 1"):
        rx.validate(0)
    with pytest.raises(KnobError, match="must be a number, max, a percentage or a fraction"):
        rx.validate("lots")
    rx.write("8192")
    assert rx.read() == "8192"
    assert ("ethtool", "-G", MLX, "rx", "8192") in dc.writes


def test_a_driver_without_rings_channels_or_coalescing_says_so_per_setting(host_root):
    tree = FakeKernelTree(host_root("edge-box"))
    for name in ("rings:rx", "channels:combined", "coalesce:rx-usecs"):
        with pytest.raises(KnobError, match="the driver does not support it .*Operation not supported"):
            knob(tree, "enx0c5b8f279a64:" + name).validate(1)
    assert knob(tree, "enx0c5b8f279a64:features:gro").validate("off") == "off"


def test_features_by_short_or_long_name_fixed_ones_refused(dc):
    gro = knob(dc, "eno1:features:gro")
    assert gro.identity == "nic:eno1:features:generic-receive-offload"
    assert gro.read() == "on" and gro.validate(False) == "off"
    with pytest.raises(KnobError, match="large-receive-offload: fixed by the driver .always off"):
        knob(dc, "eno1:features:lro").validate("on")
    with pytest.raises(KnobError, match="no such feature on this interface .changeable: .*generic-receive-offload"):
        knob(dc, "eno1:features:warp-drive").validate("on")
    with pytest.raises(KnobError, match="must be on or off"):
        gro.validate("sometimes")


def test_group_feature_whose_sub_features_are_all_fixed_is_refused(host_root):
    """The lab's virtio NIC prints 'tx-checksumming: off' without [fixed]; every sub-feature is fixed."""
    tree = FakeKernelTree(host_root("lab-datacenter-vm"))
    with pytest.raises(KnobError, match="tx-checksumming: fixed by the driver"):
        knob(tree, "enp0s3:features:tx").validate("on")


def test_channels_above_the_maximum_are_refused(host_root):
    tree = FakeKernelTree(host_root("cloud-vm"))
    combined = knob(tree, "eth0:channels:combined")
    assert combined.read() == "4" and combined.validate("max") == "4"
    with pytest.raises(KnobError, match="channels combined: 8 is above the driver's maximum 4"):
        combined.validate(8)
    with pytest.raises(KnobError, match="channels rx: the driver has no such channels"):
        knob(tree, "eth0:channels:rx").validate(1)


def test_coalescing_parameters_the_driver_shows_as_na_are_refused(host_root):
    tree = FakeKernelTree(host_root("cloud-vm"))
    with pytest.raises(KnobError, match="coalesce adaptive-tx: the driver does not support it .ethtool shows n/a"):
        knob(tree, "eth0:coalesce:adaptive-tx").validate("on")
    with pytest.raises(KnobError, match="no such coalescing parameter .known: .*rx-usecs"):
        knob(tree, "eth0:coalesce:rx-bananas").validate(1)
    adaptive = knob(tree, "eth0:coalesce:adaptive-rx")
    assert adaptive.read() == "off" and adaptive.validate(True) == "on"
    adaptive.write("on")
    assert adaptive.read() == "on"


def test_mtu_txqueuelen_and_rps_are_sysfs_values(dc):
    mtu = knob(dc, MLX + ":mtu")
    assert mtu.read() == "1500" and mtu.validate(9000) == "9000"
    assert mtu.disruption().startswith("changing the MTU resets the link")
    with pytest.raises(KnobError, match="mtu: 70000 is out of range 68..65535"):
        mtu.validate(70000)
    rps = knob(dc, MLX + ":rps:rx-0")
    assert rps.read() == ""
    assert rps.validate("32-35") == "32-35"
    rps.write("32-35")
    assert dc.read("/sys/class/net/%s/queues/rx-0/rps_cpus" % MLX) == "0000000f,00000000"
    assert rps.read() == "32-35" and rps.equal("32-35", "32,33,34,35")
    with pytest.raises(KnobError, match="rps rx-0: CPU.s. 64 are not online .online: 0-63"):
        rps.validate("64")
    with pytest.raises(KnobError, match="rps rx-99: no such queue"):
        knob(dc, MLX + ":rps:rx-99").validate("1")


@pytest.mark.parametrize("name, words", [
    ("../eth0:mtu", "not a valid interface name"),
    ("eth0/../../x:mtu", "not a valid interface name"),
    ("eth0:mtu:x", "mtu takes no parameter"),
    ("eth0:rings:rx/../../x", "rings needs a valid parameter"),
    ("eth0:rps:../rx-0", "rps needs a valid parameter"),
    ("eth0:features:gro/../x", "features needs a valid parameter"),
    ("eth0:speed", "unknown setting 'speed'"),
])
def test_names_with_path_tricks_never_become_paths(tmp_path, name, words):
    with pytest.raises(KnobError, match=words):
        knob(HostTree(str(tmp_path)), name)


def test_udev_rule_matches_the_permanent_mac_and_groups_ethtool_calls(dc):
    settings = [(knob(dc, MLX + ":" + name), value) for name, value in (
        ("rings:rx", "8192"), ("rings:tx", "8192"), ("channels:combined", "16"), ("features:gro", "on"),
        ("features:lro", "off"), ("coalesce:adaptive-rx", "on"), ("mtu", "9000"), ("rps:rx-1", "32-35"))]
    settings.append((knob(dc, MLX + ":xps"), "0-3"))
    rules = render_udev([(item, value, item.persist_data()) for item, value in settings]).splitlines()
    rule = rules[2]
    assert rule.startswith('ACTION=="add", SUBSYSTEM=="net", DRIVERS=="?*", ATTR{address}=="b8:ce:f6:00:00:00", ')
    assert 'ATTR{mtu}="9000"' in rule
    # queues made later by a channel change get their masks from their own add event
    assert rules[3:] == [
        'ACTION=="add", SUBSYSTEM=="queues", KERNEL=="rx-1", DRIVERS=="?*", ATTRS{address}=="b8:ce:f6:00:00:00", '
        'ATTR{rps_cpus}="0000000f,00000000"',
        'ACTION=="add", SUBSYSTEM=="queues", KERNEL=="tx-*", DRIVERS=="?*", ATTRS{address}=="b8:ce:f6:00:00:00", '
        'ATTR{xps_cpus}="0000000f"']
    assert rule.index("-L $name combined 16") < rule.index("-G $name rx 8192 tx 8192")
    assert 'RUN+="/usr/sbin/ethtool -K $name generic-receive-offload on large-receive-offload off"' in rule
    assert 'RUN+="/usr/sbin/ethtool -C $name adaptive-rx on"' in rule
    assert render_udev([]) is None


def test_interface_without_a_permanent_mac_is_matched_by_pci_path_or_name(dc):
    with open(dc.path("/sys/class/net/%s/addr_assign_type" % MLX), "w") as handle:
        handle.write("3\n")
    assert knob(dc, MLX + ":mtu").persist_data() == {"match": 'ENV{ID_PATH}=="pci-0000:77:00.0"',
                                                     "queue_match": 'KERNELS=="%s"' % MLX}
    assert knob(dc, "bond0:mtu").persist_data()["warning"] == "no stable id: matched by interface name"


def test_tx_checksum_off_takes_tso_with_it_and_rollback_restores_both(dc, tmp_path):
    journal = Journal(dc, "/var/lib/hostperf")
    before = tree_digest(dc.root)
    engine = Engine(dc, journal)
    result = engine.apply({"nic:eno1:features:tx": "off"})
    assert knob(dc, "eno1:features:tso").read() == "off"
    record = journal.transactions()[-1]
    journaled = dict((item["identity"], item["before"]) for item in record["settings"])
    assert journaled["nic:eno1:features:tcp-segmentation-offload"] == "on"
    assert result["settings"][0]["identity"] == "nic:eno1:features:tx-checksumming"
    engine.rollback("last")
    assert knob(dc, "eno1:features:tso").read() == "on" and knob(dc, "eno1:features:tx").read() == "on"
    assert outside_journal(dc.root) == before


def test_channel_change_recreates_queues_and_rollback_puts_their_masks_back(dc):
    queues = "/sys/class/net/%s/queues" % MLX
    knob(dc, MLX + ":rps:rx-20").write("32-35")
    before = tree_digest(dc.root)
    engine = Engine(dc, Journal(dc, "/var/lib/hostperf"))
    result = engine.apply({"nic:%s:channels:combined" % MLX: 8})
    assert result["settings"][0]["disruption"].startswith("changing channels makes most drivers reset the link")
    assert "rx-20" not in dc.listdir(queues) and len([q for q in dc.listdir(queues) if q.startswith("rx-")]) == 8
    engine.rollback("last")
    assert knob(dc, MLX + ":rps:rx-20").read() == "32-35"
    assert outside_journal(dc.root) == before


def test_tune_nic_by_driver_with_local_rps_persists_and_is_idempotent(dc):
    journal = Journal(dc, "/var/lib/hostperf")
    params = {"nic": [{"driver": "mlx5_core", "rings": {"rx": "max"}, "features": {"gro": "off"}, "rps": "local"}]}
    result = tune(dc, journal, params)
    identities = [item["identity"] for item in result["settings"]]
    assert "nic:ens1f1np1:rings:rx" in identities and "nic:eno1:rings:rx" not in identities
    assert knob(dc, "ens1f1np1:rps:rx-31").read() == "16-31,48-63"
    rules = dc.read(UDEV_RULES_FILE)
    assert rules.count("SUBSYSTEM==\"net\"") == 2 and rules.count("SUBSYSTEM==\"queues\", KERNEL==\"rx-*\"") == 2
    assert "ethtool -G $name rx 8192" in rules
    assert tune(dc, journal, params)["changed"] is False


def test_warnings_name_disruptive_changes_in_check_mode_too(dc):
    result = tune(dc, Journal(dc, "/var/lib/hostperf"), {"nic": [{"interface": "eno1", "rings": {"rx": 4096}}]},
                  check_mode=True)
    assert result["settings"][0]["disruption"].startswith("changing ring sizes")
    assert knob(dc, "eno1:rings:rx").read() == "256"
