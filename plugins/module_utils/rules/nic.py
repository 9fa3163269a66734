# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NIC settings for one interface by name, every interface of a driver, or every hardware interface.

Amounts ("max", "50%", 0.5, "local" channels or RPS/XPS CPUs) become numbers
and CPU lists from the facts, so a plan shows what will be written. An
interface named exactly gets what was asked (tune's knob refuses what its
driver cannot do); a driver or the whole host is fleet-wide: what a driver
cannot change is left out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import format_cpulist, parse_cpulist
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.nic_ethtool import FEATURE_ALIASES, amount_of
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.irq import cpus_here, irq_affinity, usable_cpus
from ansible_collections.hostperf.tuning.plugins.module_utils.rules.plan import AMOUNT, FLAG, TEXT, Section

# settings that take {parameter: value}; each is named in identities as here (nic:eth0:rings:rx)
GROUPS = ("rings", "channels", "features", "coalesce")
VALUES = ("mtu", "txqueuelen")
QUEUE_MASKS = ("rps", "xps")
SETTINGS = tuple(GROUPS) + VALUES + QUEUE_MASKS
REASONS = {
    "rings": "%s ring at %s of the driver's maximum %d: fewer drops in bursts; resets the link when changed",
    "channels": "%s of the driver's maximum %d; re-creates queues and resets the link when changed",
}


def nic_settings(plan, facts, request, where, source="profile", every=False):
    """Plan request {interface or driver, setting: value, ...}; every: neither, for every hardware NIC."""
    request = dict((key, value) for key, value in request.items() if value not in (None, {}))
    name, driver = request.pop("interface", None), request.pop("driver", None)
    if (bool(name) + bool(driver)) != (0 if every else 1):
        plan.errors.append("%s: give %s" % (where, "neither interface nor driver" if every else
                                            "exactly one of interface or driver"))
        return
    unknown = sorted(str(key) for key in set(request) - set(SETTINGS))
    if unknown:
        plan.errors.append("%s: unknown setting(s) %s (known: %s)" % (where, ", ".join(unknown),
                                                                      ", ".join(sorted(SETTINGS))))
        return
    for option in GROUPS:
        parameters = request.get(option)
        if parameters is not None and (not isinstance(parameters, dict)
                                       or not all(isinstance(key, str) for key in parameters)):
            plan.errors.append("%s: %s must map parameter names to values, not %r" % (where, option, parameters))
            return
    nics = facts.get("nics") or {}
    if name:
        _interface(plan, facts, name, nics.get(name) or (facts.get("virtual_nics") or {}).get(name) or {}, request,
                   where, True, source)
        names = [name]
    else:
        _by_driver(plan, facts, driver, request, where, source)


def _by_driver(plan, facts, driver, request, where, source):
    nics = facts.get("nics") or {}
    names = sorted(nic for nic, info in nics.items() if not driver or info.get("driver") == driver)
    if driver and not names:
        # A selector is fleet-wide: a host without that hardware has nothing to do, like a profile's class.
        plan.notes.append("%s: no interface uses driver %r here (drivers: %s); nothing to do" % (
            where, driver, ", ".join(sorted(set(str(info.get("driver")) for info in nics.values()))) or "none"))
    for interface in names:
        _interface(plan, facts, interface, nics[interface], request, where, False, source)
    return names


def _interface(plan, facts, name, nic, request, where, exact, source):
    for option in GROUPS:
        for parameter, value in sorted((request.get(option) or {}).items()):
            if option == "features":
                parameter = FEATURE_ALIASES.get(parameter, parameter)
            planned = _planned(plan, facts, nic, option, parameter, value, where, exact)
            if planned is not None:
                plan.add("nic:%s:%s:%s" % (name, option, parameter), planned[0],
                         planned[1], planned[2], "medium" if option in ("rings", "channels", "coalesce") else "low",
                         source)
    for option in VALUES:
        if option in request:
            plan.add("nic:%s:%s" % (name, option), request[option], nic.get(option), "%s sets %s" % (where, option),
                     "medium" if option == "mtu" else "low", source)
    for option in QUEUE_MASKS:
        if option in request:
            plan.add("nic:%s:%s" % (name, option), queue_cpus(facts, nic, request[option]), None,
                     "%s steers %s queues to these CPUs" % (where, "receive" if option == "rps" else "transmit"),
                     "low", source)


def _planned(plan, facts, nic, option, parameter, value, where, exact):
    """(value, current, reason) for one parameter, or None to leave it out; exact requests are never left out."""
    section = nic.get(option) or {}
    key = parameter.replace("-", "_")
    if option == "features":
        feature = (section.get("features") or {}).get(parameter)
        if not exact and (not feature or feature["fixed"]):
            return None
        current = None if not feature else ("on" if feature["enabled"] else "off")
        return value, current, "%s turns %s %s" % (where, parameter, value)
    if option == "coalesce":
        current = section.get(key)
        if not exact and (not section.get("supported") or current is None):
            return None
        if isinstance(current, bool):
            current = "on" if current else "off"
        return value, current, "%s sets interrupt coalescing %s" % (where, parameter)
    entry = section.get(key) or {}
    if not section.get("supported") or not entry.get("max"):
        return (value, entry.get("current"), "%s asks for %s" % (where, value)) if exact else None
    maximum = entry["max"]
    if option == "channels" and value == "local":
        local = len(parse_cpulist(nic.get("local_cpus") or "")) or maximum
        return (min(local, maximum), entry.get("current"), "one queue per CPU of the NIC's node (%d CPUs, driver "
                "maximum %d); re-creates queues and resets the link when changed" % (local, maximum))
    try:
        amount = min(amount_of(value, maximum), maximum) if not exact else amount_of(value, maximum)
    except ValueError:
        plan.errors.append("%s %s %s: %r is not a number, max, a percentage or a fraction"
                           % (where, option, parameter, value))
        return None
    if option == "rings":
        reason = REASONS["rings"] % (parameter, "all" if str(value) == "max" else value, maximum)
    else:
        reason = REASONS["channels"] % (value, maximum)
    return amount, entry.get("current"), reason


def queue_cpus(facts, nic, value):
    """'local' means the CPUs of the NIC's own NUMA node, without isolated CPUs (with them if nothing else is left)."""
    if value != "local":
        return value
    cpu = facts.get("cpu") or {}
    online, isolated = cpus_here(facts), parse_cpulist(cpu.get("isolated") or "")
    local = (nic or {}).get("local_cpus")
    return format_cpulist(usable_cpus(local, online, isolated) or usable_cpus(local, online, ()))


def _profile_nic(plan, facts, spec):
    """A profile's nic section is a selector for every hardware NIC, with IRQs placed per NIC."""
    channels = spec.get("channels")
    nic_settings(plan, facts, {"rings": spec.get("rings"), "coalesce": spec.get("coalesce"),
                               "channels": {"combined": channels} if channels else None}, "profile nic",
                 every=True)
    placement = spec.get("irq_affinity")
    if placement:
        requests = [{"interface": name, "cpus": placement, "xps": bool(spec.get("xps"))}
                    for name, nic in sorted((facts.get("nics") or {}).items()) if nic.get("irqs")]
        irq_affinity(plan, facts, requests, "the NIC's IRQs on %s CPUs, one queue per CPU" % placement)


NIC = Section("nic", _profile_nic, {"rings": {"*": AMOUNT}, "channels": AMOUNT, "coalesce": {"*": AMOUNT},
                                    "irq_affinity": TEXT, "xps": FLAG})
