"""One grammar for identities: the parser, the kinds' declarations, and docs/identities.md agree."""

import os
import re

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import HostTree
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import Grammar, IdentityError, split_identity
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.registry import KINDS, grammars, knob_for

from conftest import REPO

DOC = os.path.join(REPO, "docs", "identities.md")


def _doc():
    with open(DOC) as handle:
        return handle.read()


def test_every_kind_has_its_section_headed_by_its_form_and_no_other():
    headings = re.findall(r"^## `([^`]+)`$", _doc(), re.M)
    assert sorted(headings) == sorted(grammar.form for grammar in grammars().values())


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_declares_its_own_grammar_with_examples_that_parse_and_read_back(kind):
    grammar = KINDS[kind].grammar
    assert grammar.kind == kind and grammar.examples
    for example in grammar.examples:
        assert example in _doc(), "docs/identities.md must show %s" % example
        found, name = split_identity(example)
        assert found == kind
        assert grammar.format(**grammar.parse(name)) == example
        assert knob_for(HostTree("/nonexistent"), example).identity == example


def test_every_identity_the_page_shows_names_a_known_kind_and_parses():
    shown = re.findall(r"`((?:%s):[^`\s]+)`" % "|".join(KINDS), _doc())
    assert len(shown) >= 20
    for identity in shown:
        kind, name = split_identity(identity)
        KINDS[kind].grammar.parse(name)


@pytest.mark.parametrize("grammar, name, fields", [
    (Grammar("sysctl", ("key*",), ("sysctl:x",)), "net.ipv4.conf.eth0:1.rp_filter",
     {"key": "net.ipv4.conf.eth0:1.rp_filter"}),
    (Grammar("unit", ("unit*", "property"), ("unit:x",)), "app:blue.service:cpu_affinity",
     {"unit": "app:blue.service", "property": "cpu_affinity"}),
    (Grammar("nic", ("interface", "setting", "parameter?"), ("nic:x",)), "eth0:mtu",
     {"interface": "eth0", "setting": "mtu", "parameter": ""}),
])
def test_fields_holding_the_separator_and_optional_fields(grammar, name, fields):
    assert grammar.parse(name) == fields
    assert grammar.format(**fields) == "%s:%s" % (grammar.kind, name)


@pytest.mark.parametrize("identity, words", [
    ("vm.swappiness", "expected KIND:NAME"),
    ("block:sda", "expected block:DEVICE:ATTRIBUTE (for example block:nvme0n1:scheduler)"),
    ("nic:eth0", "expected nic:INTERFACE:SETTING[:PARAMETER]"),
    ("service:irqbalance.service", "expected service:UNIT:STATE"),
])
def test_a_name_off_its_grammar_is_refused_with_the_form_it_needs(identity, words):
    with pytest.raises((IdentityError, ValueError), match=re.escape(words)):
        kind, name = split_identity(identity)
        knob_for(HostTree("/nonexistent"), identity)
