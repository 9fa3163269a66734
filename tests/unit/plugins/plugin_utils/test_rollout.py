"""How hosts end a tuning run, when a rollout stops, and the lines the operator reads."""

from ansible_collections.hostperf.tuning.plugins.plugin_utils.rollout import (
    benchmark_lines, outcome_of, rollout_summary, wave_verdict)

APPLIED = {"changed": True, "transaction": "t-1",
           "settings": [{"identity": "sysctl:net.ipv4.tcp_congestion_control", "before": "cubic", "after": "bbr",
                         "changed": True},
                        {"identity": "sysctl:vm.swappiness", "before": "60", "after": "60", "changed": False}]}
NOTHING = {"changed": False, "transaction": None, "settings": []}


def verdict(name, baseline, after, change):
    return {"verdict": name, "reasons": ["wan.throughput: ...: " + name],
            "metrics": [{"metric": "wan.throughput", "unit": "Mbit/s", "gate": True, "verdict": name,
                         "baseline_median": baseline, "after_median": after, "change": change, "effect": change,
                         "reason": "wan.throughput: %s -> %s Mbit/s: %s" % (baseline, after, name)},
                        {"metric": "wan.retransmits", "unit": "segments", "gate": False, "verdict": "regressed",
                         "reason": "not gating"}]}


def test_improved_is_kept_with_its_figures_and_changes():
    result = outcome_of(APPLIED, verdict("improved", 3.2, 17.6, 4.5), host="edge-1", wave=1, profile="edge")
    assert result["outcome"] == "kept"
    assert result["changed"] == [{"identity": "sysctl:net.ipv4.tcp_congestion_control", "before": "cubic",
                                  "after": "bbr"}]
    assert [metric["metric"] for metric in result["metrics"]] == ["wan.throughput"]
    assert result["reason"] == "improved: wan.throughput: 3.2 -> 17.6 Mbit/s: improved"


def test_regressed_is_rolled_back():
    result = outcome_of(APPLIED, verdict("regressed", 900, 95, -0.89))
    assert result["outcome"] == "rolled_back"
    assert result["reason"].startswith("regressed, rolled back: wan.throughput: 900 -> 95")


def test_a_suite_failing_after_the_change_is_the_reason_given():
    failed = {"verdict": "regressed", "metrics": [],
              "reasons": ["suite wan ran in the baseline and failed after: unable to connect to server"]}
    assert "failed after: unable to connect" in outcome_of(APPLIED, failed)["reason"]


def test_unproven_changes_follow_the_policy():
    unproven = {"verdict": "inconclusive", "metrics": [], "reasons": ["no gating metric was measured on both sides"]}
    assert outcome_of(APPLIED, unproven)["outcome"] == "rolled_back"
    assert outcome_of(APPLIED, unproven, unproven="keep")["outcome"] == "kept"


def test_nothing_changed_check_mode_and_failure():
    assert outcome_of(NOTHING)["outcome"] == "unchanged"
    checked = outcome_of(APPLIED, check_mode=True, suites=[{"name": "wan", "type": "network"}, {"type": "cpu"}])
    assert checked["outcome"] == "checked" and checked["reason"] == "would change 1 setting; would measure wan, cpu"
    assert outcome_of(APPLIED, check_mode=True)["reason"] == "would change 1 setting; nothing would measure it"
    assert outcome_of(NOTHING, check_mode=True)["reason"] == "would change 0 settings; nothing to measure"
    failed = outcome_of(APPLIED, failure="host went away", restored=False)
    assert failed["outcome"] == "failed"
    assert "hostperf_rollback_target=t-1" in failed["reason"]
    # a preflight failure, and a rescue whose rollback was skipped, must not claim a rollback
    assert outcome_of({}, failure="plan refused")["reason"] == "plan refused; nothing was changed"
    assert outcome_of({}, failure="plan refused", restored=True)["reason"] == "plan refused; nothing was changed"
    wrapped = ("Task failed: Finalization of task args for 'ansible.builtin.set_fact' failed: Error while resolving "
               "value for 'hostperf_plan': The filter plugin 'hostperf.tuning.plan' failed: plan: profile x: not found")
    assert outcome_of({}, failure=wrapped)["reason"] == "plan: profile x: not found; nothing was changed"
    assert outcome_of({}, failure="preflight: " + wrapped)["reason"] == (
        "preflight: plan: profile x: not found; nothing was changed")
    restored = outcome_of(APPLIED, failure="after: iperf3 failed", restored=True)
    assert restored["reason"] == "after: iperf3 failed; what this run changed was rolled back"


def test_a_host_lost_part_way_names_its_transaction():
    lost = outcome_of(APPLIED, failure="unreachable: Connection timed out", lost=True)
    assert lost["outcome"] == "lost"
    assert lost["reason"].startswith("lost part-way (unreachable: Connection timed out); its journal holds transaction t-1")
    assert outcome_of({}, lost=True)["reason"] == "lost part-way (unreachable); nothing was changed"
    # lost while tune ran: its answer, and any transaction id, never came back
    applying = outcome_of({"unreachable": True, "msg": "timed out"}, failure="host lost while applying", lost=True)
    assert applying["outcome"] == "lost" and "its journal may hold a transaction of this run" in applying["reason"]
    verdict = wave_verdict(["a", "b"], {"a": {"outcome": "kept"}, "b": lost}, ["c"], 1, 0)
    assert verdict["stop"] and verdict["lost"] == ["b"]


def test_wave_stops_only_above_the_share_and_while_hosts_remain():
    kept, rolled_back = {"outcome": "kept"}, {"outcome": "rolled_back"}
    result = wave_verdict(["a", "b", "c", "d"], {"a": kept, "b": kept, "c": kept, "d": rolled_back}, ["e"], 2, 25)
    assert not result["stop"] and result["share"] == 25.0
    result = wave_verdict(["a", "b"], {"a": kept, "b": None}, ["e", "f"], 3, 25)
    assert result["stop"] and result["lost"] == ["b"]
    assert result["message"] == ("wave 3: 1 of 2 hosts regressed, failed or were lost (50%, allowed 25%): lost b; "
                                 "the rollout stops here, 2 hosts left untouched: e f")
    last = wave_verdict(["a"], {"a": rolled_back}, [], 2, 0)
    assert not last["stop"] and last["message"].endswith("it was the last wave")


def test_summary_lists_every_target_with_totals():
    outcomes = [outcome_of(APPLIED, verdict("improved", 3.2, 17.6, 4.5), host="lab-edge", wave=1, profile="edge"),
                outcome_of(APPLIED, verdict("regressed", 900, 95, -0.894), host="lab-dc", wave=2, profile="datacenter")]
    lines = rollout_summary(outcomes, hosts=["lab-edge", "lab-dc", "lab-spare"], stopped="wave 2: ...")
    assert lines[0].split() == ["host", "wave", "profile", "outcome", "changed", "gate"]
    assert lines[1].split()[:5] == ["lab-edge", "1", "edge", "kept", "1"]
    assert lines[1].endswith("wan.throughput 3.2 -> 17.6 Mbit/s (+450%) improved")
    assert lines[2].endswith("wan.throughput 900 -> 95 Mbit/s (-89%) regressed")
    assert "not_reached" in lines[3] and lines[3].endswith("rollout stopped before this host's wave")
    assert lines[4] == "3 hosts: 1 kept, 1 not reached, 1 rolled back"
    assert lines[5] == "rollout stopped: wave 2: ..."


def test_summary_gives_a_change_from_zero_no_percentage():
    outcome = outcome_of(APPLIED, verdict("regressed", 0, 3, 0.0), host="lab-dc", wave=1, profile="datacenter")
    assert rollout_summary([outcome], hosts=["lab-dc"])[1].endswith("wan.throughput 0 -> 3 Mbit/s (from zero) regressed")


def test_benchmark_lines_say_what_did_not_run():
    result = {"suites": [{"name": "wan", "type": "network", "status": "ok"},
                         {"name": "rpc", "type": "latency", "status": "skipped", "reason": "sockperf not installed"}],
              "metrics": {"wan.throughput": {"unit": "Mbit/s", "better": "higher", "gate": True,
                                             "samples": [17.0, 18.0, 19.0, 18.0, 18.0]}}}
    assert benchmark_lines(result) == [
        "rpc (latency): skipped, sockperf not installed",
        "wan.throughput: median 18 Mbit/s over 5 trials (range 17-19), higher is better"]


def test_benchmark_lines_say_whether_the_trial_count_can_see_the_target():
    metrics = {"wan.throughput": {"unit": "Mbit/s", "better": "higher", "gate": True, "samples": [4.0, 5.0, 3.0]}}
    sized = {"metrics": metrics, "sizing": dict(target_slowdown=0.1, max_trials=20, trials=14, reached=True,
                                                limited_by="wan.throughput", noise=0.041)}
    assert benchmark_lines(sized)[-1] == "14 trials a side catch a 10% slowdown: wan.throughput varies 4.1% trial to trial"
    sized["sizing"].update(trials=20, reached=False, noise=0.151)
    assert benchmark_lines(sized)[-1] == ("20 trials a side do not reliably catch a 10% slowdown: wan.throughput varies "
                                          "15.1% trial to trial (max_trials 20 reached)")


def test_a_second_baseline_keeps_a_change_the_host_s_drift_made_look_slower():
    again = dict(APPLIED, transaction="t-2")
    kept = outcome_of(again, verdict("regressed", 900, 800, -0.11), confirmation={"verdict": "unchanged"})
    assert (kept["outcome"], kept["transaction"], kept["confirmation"]) == ("kept", "t-2", "unchanged")
    assert "so the host drifted, not the change; applied again: wan.throughput: 900 -> 800" in kept["reason"]
    confirmed = outcome_of(APPLIED, verdict("regressed", 900, 95, -0.89), confirmation={"verdict": "regressed"})
    assert confirmed["outcome"] == "rolled_back" and confirmed["confirmation"] == "regressed"
    assert confirmed["reason"].startswith("regressed, rolled back (confirmed against a second baseline")
