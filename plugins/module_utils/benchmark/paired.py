# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure a change in AB/BA pairs, looking at the evidence as it comes, until it decides.

The change is applied already. Each pair runs one round of every suite on
each side (engine/switch.py switches the live values), in an order a coin
picks per pair, so a host that drifts during the run drifts under both sides
alike. After the first ``first`` pairs, and every ``step`` pairs up to
``last``, stats/sequential.py judges every gating metric at a level that
keeps all looks together at the host's alpha; the run stops at the first look
that decides. The controller judges the same samples with the same function.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import time

from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.suite import BenchmarkError
from ansible_collections.hostperf.tuning.plugins.module_utils.benchmark.trials import Samples, TrialRunner, prepare
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import find_program
from ansible_collections.hostperf.tuning.plugins.module_utils.stats.sequential import judge_pairs, schedule

SIDES = ("before", "after")


def run_pairs(tree, specs, switch, first=8, last=20, step=2, duration=10, warmup=1, pause=1.0, alpha=0.01,
              min_effect=0.05, gate_metrics=None, seed=None, find=find_program, sleep=time.sleep, clock=time.time,
              conditions=None):
    """{design, looks, stopped, baseline, after, trials}: baseline and after are benchmark results of one shape.

    switch has to(side) for side in SIDES (engine/switch.Switch); the run ends wherever the caller's switch ends.
    """
    try:
        looks = schedule(first, last, step)
    except ValueError as exc:
        raise BenchmarkError("pairs: %s" % exc)
    suites, status, tools, _sizing = prepare(specs, 2, duration, warmup, pause, None, find)
    for suite in suites:
        if status[suite.name]["status"] == "ok":
            status[suite.name]["command"] = suite.command(tools[suite.name], duration)
    # one runner for both sides: the load a trial is held to is the whole run's, before and after alike
    runner = TrialRunner(tree, tools, duration, pause, conditions, sleep, clock)
    samples = dict((side, Samples(suites)) for side in SIDES)
    order, coin = [], random.Random(seed)
    # A suite that fails on one side fails on that side only: after the change, it is the change's regression.
    sides_status = dict((side, dict((name, dict(item)) for name, item in status.items())) for side in SIDES)

    def one_round(side, pair, warming):
        switch.to(side)
        for suite in suites:
            if any(sides_status[other][suite.name]["status"] != "ok" for other in SIDES):
                continue
            values, record = runner.run(suite, trial=pair, side=side, warmup=warming)
            if values is None:
                sides_status[side][suite.name].update(status="failed", reason="%s (on the %s side)" % (
                    record["error"], side))
                continue
            samples[side].add(suite, values, record)

    def measured(side):
        return samples[side].metrics(dict(
            (name, dict(item, status="ok" if item["status"] == "failed" else item["status"]))
            for name, item in sides_status[side].items()), tools, duration)

    verdict, pairs = None, 0
    try:
        for _round in range(warmup):
            for side in SIDES:
                one_round(side, 0, True)
        while pairs < last and not any(item["status"] == "failed" for side in SIDES
                                       for item in sides_status[side].values()):
            pairs += 1
            sides = list(SIDES) if coin.random() < 0.5 else list(reversed(SIDES))
            order.append("".join(side[0].upper() for side in sides))  # "BA": before, then after
            for side in sides:
                one_round(side, pairs, False)
            if pairs in looks:
                verdict = judge_pairs(measured("before"), measured("after"), alpha, min_effect, looks, gate_metrics)
                if verdict["stopped"]:
                    break
    finally:
        for suite in suites:
            suite.cleanup(tree)
    settings = dict(suites=specs, trials=pairs, duration=duration, warmup=warmup, pause=pause, design="pairs",
                    looks=looks, alpha=alpha, min_effect=min_effect, conditions=runner.settings())
    verdict = verdict or {}
    result = dict(design="pairs", looks=looks, pairs=pairs, order=order, conditions=runner.summary(),
                  stopped=dict(look=verdict.get("look"), verdict=verdict.get("verdict"), early=verdict.get("stopped")))
    for side, name in (("before", "baseline"), ("after", "after")):
        result[name] = dict(suites=[sides_status[side][suite.name] for suite in suites], metrics=measured(side),
                            settings=settings, trials=[record for record in runner.records if record["side"] == side],
                            conditions=runner.summary(side))
    return result
