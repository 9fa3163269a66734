#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: benchmark
short_description: Measure a host with repeated benchmark trials and return the raw samples
version_added: 0.1.0
description:
  - Runs each suite as repeated trials, interleaved across suites, after warm-up rounds that are reported but not
    counted, and returns every sample with its unit and which direction is better, plus the conditions of each trial
    (load average, CPU frequency, busy and stolen CPU time).
  - Judges nothing. Compare a baseline with a later run on the controller with the
    P(hostperf.tuning.compare#filter) filter, which is what the C(validate) role does.
  - A suite whose tool is not installed is returned as C(skipped) with the reason; a suite whose trial fails (peer
    unreachable, tool error) is returned as C(failed) with what the tool said, and its remaining trials are not run.
    The C(baseline) role installs the tools first when allowed.
  - The disk suite reads and writes only its own test file in the directory given, removed afterwards; it reads a raw
    device only with C(allow_device=true), and never writes one.
author:
  - hostperf.tuning engineers (@hostperf)
options:
  suites:
    description:
      - What to measure. Each suite is a dict with a C(type), an optional C(name) (default the type; metrics are named
        C(name.metric)) and the type's options below.
      - "C(network): iperf3 TCP throughput to C(peer) (required; a host running C(iperf3 -s)), C(port) (5201),
        C(streams) (1), C(reverse) (false; true = the peer sends), C(omit) (1, seconds of slow start left out).
        Metrics C(throughput) (Mbit/s received, gates) and C(retransmits) (reported)."
      - "C(latency): sockperf ping-pong to C(peer) (required; running C(sockperf server)), C(port) (11111),
        C(protocol) (tcp or udp), C(message_size) (64). Metrics C(p50) (us, gates), C(p99) and C(average)."
      - "C(disk): fio on C(directory) (a test file of C(size), default 256M) or C(device) (read only, with
        C(allow_device=true)); C(iodepth) (32), C(direct) (true). Metrics C(randread_iops), C(seqread_bandwidth)
        (MB/s; both gate) and C(randread_p99) (us)."
      - "C(cpu): sysbench cpu, or stress-ng where sysbench is missing; C(threads) (1). Metric C(events_per_second)."
      - "C(memory): sysbench memory; C(threads) (1), C(block_size) (4K, 64K or 1M). Metric C(bandwidth) (MiB/s)."
      - "C(custom): C(command), an argument list run without a shell (C({duration}) is replaced by the trial's
        seconds), printing one number (metric C(value)) or a JSON object of numbers or of
        C({value, unit, better, gate, cpu_bound}); C(unit), C(better) (higher or lower), C(timeout) (600 s),
        C(cpu_bound) (false; true when the figure scales with the CPU time the trial got, see O(conditions))."
      - "Every type also takes C(cpus), a CPU list such as C(2) or C(0-3,8): each trial runs pinned there with
        C(taskset), so the scheduler cannot move the benchmark between CPUs from one trial to the next (on the lab's
        datacenter VM this took iperf3's trial-to-trial spread from about 8% to under 2%). Pin to CPUs the change
        does not take away (not isolated ones); the suite is skipped when C(taskset) is missing."
    type: list
    elements: dict
    required: true
  trials:
    description: Counted trials per suite. The gate needs at least 5 to tell a change from noise.
    type: int
    default: 5
  duration:
    description: Seconds each trial runs (fio splits them over its random and sequential job).
    type: int
    default: 10
  warmup:
    description: Rounds run first and reported under C(warmup), not counted as samples.
    type: int
    default: 1
  pause:
    description: Seconds to wait after each trial, so one trial's tail does not land in the next.
    type: float
    default: 1.0
  target_slowdown:
    description:
      - The smallest slowdown, as a fraction (V(0.10) = 10%), that the gate must be able to catch on this host.
        When set, each gating metric's trial-to-trial spread is checked after the counted trials and whole rounds
        are added until a slowdown of this size would be called regressed in 95% of runs (simulated at that
        spread with the gate's O(alpha) and O(min_effect)), or O(max_trials) is reached.
      - Set it for a baseline only. The run after a change repeats the baseline's final count (returned in
        RV(settings) C(trials)) without sizing, so the count never depends on the comparison it serves.
      - Unset (the default), exactly O(trials) rounds run.
    type: float
  max_trials:
    description: The most counted trials per suite that O(target_slowdown) may grow the run to.
    type: int
    default: 20
  alpha:
    description:
      - The gate's significance level the sizing assumes; give the one the comparison will use.
      - "It is the host's, as in P(hostperf.tuning.compare#filter): each of the gating metrics is sized at alpha
        divided by their number."
    type: float
    default: 0.01
  gate_metrics:
    description:
      - The metrics the comparison will gate on (its O(hostperf.tuning.compare#filter:metrics)), by name
        (C(SUITE.METRIC)); sizing sizes these. Unset, each suite's own gating metrics.
    type: list
    elements: str
  min_effect:
    description: The gate's minimum effect the sizing assumes (a fraction); must be below O(target_slowdown).
    type: float
    default: 0.05
  paired_with:
    description:
      - "Measure a change already applied in AB/BA pairs instead of one block of trials: the id of its transaction
        (M(hostperf.tuning.tune)'s RV(hostperf.tuning.tune#module:transaction)), which must be the host's newest
        committed one and switchable (tune's RV(hostperf.tuning.tune#module:pairs))."
      - Each pair runs one round of every suite with the live values before the change and one with them after, in
        an order a coin picks per pair; after O(looks) C(first) pairs and every C(step) up to C(last), every
        gating metric is judged at a level that keeps all looks together at the host's O(alpha), and the run stops
        at the first look that decides. Drift on the host during the run lands on both sides alike.
      - Files stay as the change wrote them; the transaction is C(on_trial) in the journal meanwhile, so a run
        killed part-way leaves it interrupted (the next tune refuses, M(hostperf.tuning.rollback) restores it
        exactly). The run ends with the after values live, verified.
      - O(trials) and O(target_slowdown) do not apply; RV(baseline) and RV(after) are two results of the usual
        shape for P(hostperf.tuning.compare#filter).
    type: str
  looks:
    description: With O(paired_with), when the pairs are judged.
    type: dict
    default: {}
    suboptions:
      first:
        description: Pairs before the first look; below 8 one stalled trial can hide a slowdown on its own.
        type: int
        default: 8
      last:
        description: The most pairs run.
        type: int
        default: 20
      step:
        description: Pairs between looks.
        type: int
        default: 2
  conditions:
    description:
      - When a trial measured the neighbours instead of the host, and what is done about it. A trial during which
        more than O(conditions.max_steal_pct) of its CPUs' time was stolen by the hypervisor, or that ended with a
        1-minute load above O(conditions.max_load), is run again after waiting a trial's length, up to
        O(conditions.reruns) times; the discarded attempts stay in RV(trials) with C(discarded). A trial still
        disturbed after its re-runs counts, marked C(disturbed), and the gate calls a metric with more than a
        quarter of its trials disturbed inconclusive rather than blame the change.
      - A metric that scales with the CPU time it got (C(cpu) and C(memory), or a C(custom) one declared
        C(cpu_bound)) is not re-run for stolen time but normalised by the share not stolen (up to 50% stolen; beyond
        that it is re-run); C(normalised) in RV(trials) gives the factor.
    type: dict
    default: {}
    suboptions:
      max_steal_pct:
        description: The most stolen CPU time, in percent of the trial's CPUs (the ones it is pinned to, else all).
        type: float
        default: 5.0
      max_load:
        description:
          - The highest 1-minute load average a trial may end with. Unset, the median of the run's earlier trials
            (the benchmark's own load is in it) plus half the online CPUs, at least 1.
          - RV(settings) C(conditions) returns the limit a run reached, so the run after a change, repeating the
            baseline's settings, is held to the baseline's load.
        type: float
      reruns:
        description: How many times a disturbed trial is run again (0 keeps every trial as it ran).
        type: int
        default: 2
  seed:
    description: With O(paired_with), seeds the coin that orders each pair (tests); unset, a fresh one each run.
    type: int
extends_documentation_fragment:
  - hostperf.tuning.journal
seealso:
  - module: hostperf.tuning.tune
  - plugin: hostperf.tuning.compare
    plugin_type: filter
notes:
  - An iperf3 server runs one test at a time. A trial that finds the peer busy with another host's test waits and
    retries (up to 5 times); give hosts that benchmark against one peer at the same time their own ports.
attributes:
  check_mode:
    description:
      - A preflight that measures nothing, runs no trial and writes nothing. It validates every option, finds each
        suite's tool, and asks each network suite's peer to accept a TCP connection within 5 seconds; what would
        stop a suite is listed in RV(problems). With O(paired_with) it fails, as a run would, when the transaction
        cannot be switched (not the newest committed one, a costly setting, an interrupted transaction).
    support: full
  diff_mode:
    description: Nothing changes, so there is nothing to diff.
    support: none
"""

EXAMPLES = r"""
- name: Measure the WAN link to the hub and the local disk
  hostperf.tuning.benchmark:
    suites:
      - type: network
        name: wan
        peer: 10.77.0.1
      - type: disk
        directory: /var/tmp
        size: 128M
    trials: 5
    duration: 5
  register: hostperf_baseline

- name: A baseline that grows to as many as 20 trials when the host is too noisy to see a 10% slowdown in 5
  hostperf.tuning.benchmark:
    suites:
      - type: cpu
    trials: 5
    target_slowdown: 0.10
    max_trials: 20
  register: hostperf_baseline

- name: Gate on the application's own benchmark, which prints a JSON object with its figures
  hostperf.tuning.benchmark:
    suites:
      - type: custom
        name: app
        command: [/usr/local/bin/app-bench, --seconds, "{duration}"]
"""

RETURN = r"""
design:
  description: C(pairs) with O(paired_with); absent otherwise (one block of trials).
  returned: with O(paired_with)
  type: str
baseline:
  description: With O(paired_with), the before side's trials as a benchmark result (suites, metrics, trials, settings).
  returned: with O(paired_with)
  type: dict
after:
  description: With O(paired_with), the after side's trials as a benchmark result.
  returned: with O(paired_with)
  type: dict
pairs:
  description: With O(paired_with), how many pairs ran.
  returned: with O(paired_with)
  type: int
order:
  description: With O(paired_with), each pair's order (C(BA) = before, then after), as the coin picked it.
  returned: with O(paired_with)
  type: list
  elements: str
stopped:
  description: With O(paired_with), the C(look) the run stopped at, the C(verdict) there and whether it stopped
    C(early) (decided) or ran out of looks.
  returned: with O(paired_with)
  type: dict
problems:
  description:
    - In check mode, what would stop a suite, each with C(suite), C(message) and C(missing_tool) (the program to
      install, or null when the problem is another, such as a peer that does not answer).
  returned: in check mode
  type: list
  elements: dict
  sample: [{suite: wan, missing_tool: null, message: "suite wan (network): peer 10.0.0.1:5201 does not answer: timed out"}]
suites:
  description: Per suite C(name), C(type), C(status) (ok, skipped, failed, or in check mode unreachable), C(tool),
    C(missing) (the program a skipped suite lacks), C(reason) and the C(command) of one trial.
  returned: always
  type: list
  elements: dict
metrics:
  description: Per metric (C(suite.metric)) its C(unit), C(better) (higher or lower), C(gate) (whether the gate judges
    it), C(cpu_bound), C(samples) (counted trials, in order), C(warmup) (the warm-up values) and C(disturbed) (how
    many samples ran disturbed after their re-runs, see O(conditions)).
  returned: always
  type: dict
  sample:
    wan.throughput:
      unit: Mbit/s
      better: higher
      gate: true
      cpu_bound: false
      suite: wan
      samples: [18.1, 18.4, 17.9, 18.3, 18.2]
      warmup: [12.5]
      disturbed: 0
trials:
  description: Every trial run, warm-up and discarded attempts included, with C(suite), C(trial) (0 or less for
    warm-up), C(warmup), C(started) (UTC), C(seconds), C(load1) and C(load1_end) (at its start and end), C(cpu_mhz),
    C(busy_pct) (the host's), C(steal_pct) (of the trial's CPUs), C(error) when it failed, C(discarded) (why it was
    run again), C(disturbed) (why it counts though its conditions were off) and C(normalised) (metric to factor).
  returned: always
  type: list
  elements: dict
conditions:
  description: The limits the run held its trials to (C(max_steal_pct), C(max_load) as reached, C(reruns)) and how
    many trials it C(discarded) and re-ran, kept C(disturbed), and C(normalised).
  returned: when trials ran
  type: dict
  sample: {max_steal_pct: 5.0, max_load: 2.04, reruns: 2, discarded: 1, disturbed: 0, normalised: 0}
settings:
  description: The C(suites), C(trials) (the final count, after any sizing), C(duration), C(warmup), C(pause) and
    C(conditions) (with the load limit the run reached) used, so a later run can repeat them.
  returned: always
  type: dict
sizing:
  description: What O(target_slowdown) decided. C(trials) run, C(reached) (whether a slowdown of
    C(target_slowdown) is caught 95% of the time at that count), C(limited_by) (the gating metric that needed the
    most trials) and its C(noise) (relative median absolute deviation), C(target_slowdown) and C(max_trials).
  returned: when O(target_slowdown) is set
  type: dict
  sample:
    target_slowdown: 0.1
    max_trials: 20
    trials: 11
    reached: true
    limited_by: wan.throughput
    noise: 0.034
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.paired import run_pairs
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.suite import BenchmarkError
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.trials import (
    Sizing, check_benchmarks, run_benchmarks)
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import JournalError
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import COMMON_OPTIONS, open_journal
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.switch import Switch, SwitchError


def main():
    module = AnsibleModule(argument_spec=dict(
        suites=dict(type="list", elements="dict", required=True),
        trials=dict(type="int", default=5),
        duration=dict(type="int", default=10),
        warmup=dict(type="int", default=1),
        pause=dict(type="float", default=1.0),
        target_slowdown=dict(type="float"),
        max_trials=dict(type="int", default=20),
        alpha=dict(type="float", default=0.01),
        min_effect=dict(type="float", default=0.05),
        gate_metrics=dict(type="list", elements="str"),
        paired_with=dict(type="str"),
        looks=dict(type="dict", default={}, options=dict(first=dict(type="int", default=8),
                                                         last=dict(type="int", default=20),
                                                         step=dict(type="int", default=2))),
        seed=dict(type="int"),
        conditions=dict(type="dict", default={}, options=dict(max_steal_pct=dict(type="float", default=5.0),
                                                              max_load=dict(type="float"),
                                                              reruns=dict(type="int", default=2))),
        **COMMON_OPTIONS
    ), supports_check_mode=True, mutually_exclusive=[["paired_with", "target_slowdown"]])
    params = module.params
    tree, journal = open_journal(params)
    sizing = Sizing(params["target_slowdown"], params["max_trials"], params["alpha"], params["min_effect"],
                    params["gate_metrics"])
    try:
        if module.check_mode:
            if params["paired_with"]:
                Switch(tree, journal, params["paired_with"]).check()
            result = check_benchmarks(tree, params["suites"], params["trials"], params["duration"], params["warmup"],
                                      params["pause"], sizing, conditions=params["conditions"])
        elif params["paired_with"]:
            looks = params["looks"]
            with Switch(tree, journal, params["paired_with"]) as switch:
                result = run_pairs(tree, params["suites"], switch, looks["first"], looks["last"], looks["step"],
                                   params["duration"], params["warmup"], params["pause"], params["alpha"],
                                   params["min_effect"], params["gate_metrics"], params["seed"],
                                   conditions=params["conditions"])
        else:
            result = run_benchmarks(tree, params["suites"], params["trials"], params["duration"], params["warmup"],
                                    params["pause"], sizing, conditions=params["conditions"])
    except (BenchmarkError, JournalError, SwitchError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
