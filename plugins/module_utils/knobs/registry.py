# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every kind of knob, by the prefix of its identity. Adding a kind means adding it here."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.block import BlockQueueKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.cmdline import CmdlineKnob, CmdlineTrialKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.cpufreq import CpufreqKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import IdentityError, split_identity
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.irq import IrqAffinityKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.kernel_module import KernelModuleKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.nic import NicKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.nic_attribute import NicAttributeKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.nic_ethtool import NicSizeKnob, NicSwitchKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.nic_queue import NicQueueKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.qdisc import RootQdiscKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.service import ServiceKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.sysctl import SysctlKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.thp import TransparentHugepageKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.hugepages import HugepagesKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.cpu_power import CpuPowerKnob
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.unit import UnitCpuAffinityKnob

KINDS = dict((kind.kind, kind) for kind in (
    SysctlKnob, BlockQueueKnob, KernelModuleKnob, NicKnob, IrqAffinityKnob, ServiceKnob, CpufreqKnob,
    UnitCpuAffinityKnob, TransparentHugepageKnob, RootQdiscKnob, HugepagesKnob, CpuPowerKnob, CmdlineKnob,
    CmdlineTrialKnob))
# The nic kind's mechanisms, each registered with NicKnob for the settings it handles.
NIC_MECHANISMS = (NicAttributeKnob, NicQueueKnob, NicSizeKnob, NicSwitchKnob)


def knob_for(tree, identity):
    """The knob an identity such as 'block:sda:scheduler' names."""
    try:
        kind, name = split_identity(identity)
    except IdentityError:
        kind, name = str(identity).partition(":")[0], None
    if kind not in KINDS:
        raise KnobError("setting %r: unknown kind %r (known: %s)" % (identity, kind, ", ".join(sorted(KINDS))))
    if name is None:
        raise KnobError("setting %r: expected %s" % (identity, KINDS[kind].grammar.form))
    return KINDS[kind].create(tree, name)


def canonical(identity):
    """The one spelling of identity (sysctl:net/core/x -> sysctl:net.core.x, features:gro -> its long name).

    Knobs read nothing until asked, so no host is needed; KnobError as knob_for.
    """
    return knob_for(None, identity).identity


def scope_of(identity):
    """knobs.scope's MACHINE, a namespace, or OWN for an identity; KnobError as knob_for."""
    return knob_for(None, identity).scope


def where_persisted(identity, entry):
    """The whereabouts (an IRQ's name) a managed state entry recorded, to find it after a boot renumbered it."""
    kind = str(identity).partition(":")[0]
    return KINDS[kind].where_persisted(entry.get("data") or {}) if kind in KINDS else None


def grammars():
    """{kind: Grammar} of every kind, for the parser's users and docs/identities.md."""
    return dict((kind, knob.grammar) for kind, knob in KINDS.items())
