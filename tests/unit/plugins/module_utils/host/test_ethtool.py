from ansible_collections.hostperf.tuning.plugins.module_utils.host import ethtool
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import CommandResult

VETH_RINGS = CommandResult(1, "", "netlink error: Operation not supported\n")


def test_unsupported_is_data_with_the_drivers_words():
    assert ethtool.parse_rings(VETH_RINGS) == {"supported": False, "error": "netlink error: Operation not supported"}


def test_missing_ethtool_is_reported():
    result = CommandResult(127, stderr="ethtool not found", missing=True)
    assert ethtool.parse_channels(result) == {"supported": False, "error": "ethtool is not installed"}


def test_rings_parse_current_and_max():
    text = ("Ring parameters for eth0:\nPre-set maximums:\nRX:\t\t4096\nRX Mini:\tn/a\nRX Jumbo:\tn/a\nTX:\t\t4096\n"
            "Current hardware settings:\nRX:\t\t256\nRX Mini:\tn/a\nRX Jumbo:\tn/a\nTX:\t\t512\nTX Push:\toff\n")
    rings = ethtool.parse_rings(CommandResult(0, text))
    assert rings["rx"] == {"current": 256, "max": 4096}
    assert rings["tx"] == {"current": 512, "max": 4096}
    assert "rx_mini" not in rings
    assert rings["extra"] == {"tx_push": False}


def test_features_keep_fixed_flag_and_sub_features():
    text = "Features for eth0:\nrx-checksumming: on [fixed]\ntx-checksumming: on\n\ttx-checksum-ipv4: off [fixed]\n" \
           "generic-receive-offload: on [requested off]\n"
    features = ethtool.parse_features(CommandResult(0, text))["features"]
    assert features["rx-checksumming"] == {"enabled": True, "fixed": True, "parent": None}
    assert features["tx-checksum-ipv4"] == {"enabled": False, "fixed": True, "parent": "tx-checksumming"}
    assert features["generic-receive-offload"] == {"enabled": True, "fixed": False, "parent": None}


def test_a_group_whose_sub_features_are_all_fixed_is_fixed():
    """virtio-net without csum: 'tx-checksumming: off' has no [fixed] mark, but -K tx on cannot work."""
    text = "Features for eth0:\ntx-checksumming: off\n\ttx-checksum-ipv4: off [fixed]\n" \
           "\ttx-checksum-ip-generic: off [fixed]\nscatter-gather: off\n\ttx-scatter-gather: off\n"
    features = ethtool.parse_features(CommandResult(0, text))["features"]
    assert features["tx-checksumming"]["fixed"] is True
    assert features["scatter-gather"]["fixed"] is False


def test_coalesce_adaptive_pairs():
    text = "Coalesce parameters for eth0:\nAdaptive RX: on  TX: n/a\nrx-usecs: 8\ntx-frames: n/a\n"
    coalesce = ethtool.parse_coalesce(CommandResult(0, text))
    assert coalesce["adaptive_rx"] is True and coalesce["adaptive_tx"] is None
    assert coalesce["rx_usecs"] == 8 and coalesce["tx_frames"] is None
