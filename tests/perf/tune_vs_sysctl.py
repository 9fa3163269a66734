"""Apply the same 40 sysctls and 3 block settings two ways and print wall times side by side.

    make perf-tune

One ansible-playbook run with hostperf.tuning.tune, against one run of a loop
of ansible.posix.sysctl tasks (plus one task per block attribute), interleaved
over several rounds on this machine: net.* keys inside a network namespace
made for the run, block settings on a loop device made for the run, /etc in a
throwaway overlay. Every round starts from the same values. Needs root.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
ISOLATED = os.path.join(REPO, "tests", "integration", "isolated-etc.sh")
ROUNDS = int(os.environ.get("HOSTPERF_PERF_ROUNDS", "3"))

# 40 keys that live in each network namespace, with values different from the defaults.
SYSCTL = {
    "net.core.somaxconn": 8192, "net.ipv4.tcp_keepalive_time": 600, "net.ipv4.tcp_keepalive_intvl": 30,
    "net.ipv4.tcp_keepalive_probes": 5, "net.ipv4.tcp_syn_retries": 4, "net.ipv4.tcp_synack_retries": 3,
    "net.ipv4.tcp_fin_timeout": 20, "net.ipv4.tcp_max_syn_backlog": 8192, "net.ipv4.tcp_sack": 1,
    "net.ipv4.tcp_timestamps": 1, "net.ipv4.tcp_window_scaling": 1, "net.ipv4.tcp_mtu_probing": 1,
    "net.ipv4.tcp_slow_start_after_idle": 0, "net.ipv4.tcp_no_metrics_save": 1, "net.ipv4.tcp_ecn": 1,
    "net.ipv4.tcp_fastopen": 3, "net.ipv4.tcp_tw_reuse": 1, "net.ipv4.tcp_rmem": "4096 131072 33554432",
    "net.ipv4.tcp_wmem": "4096 65536 33554432", "net.ipv4.tcp_notsent_lowat": 131072,
    "net.ipv4.tcp_retries2": 10, "net.ipv4.tcp_orphan_retries": 2, "net.ipv4.tcp_reordering": 4,
    "net.ipv4.tcp_min_snd_mss": 64, "net.ipv4.tcp_base_mss": 1024, "net.ipv4.tcp_probe_interval": 300,
    "net.ipv4.tcp_probe_threshold": 16, "net.ipv4.tcp_dsack": 1, "net.ipv4.tcp_frto": 2,
    "net.ipv4.tcp_autocorking": 0, "net.ipv4.tcp_limit_output_bytes": 2097152, "net.ipv4.tcp_min_tso_segs": 4,
    "net.ipv4.tcp_pacing_ss_ratio": 180, "net.ipv4.tcp_pacing_ca_ratio": 110, "net.ipv4.tcp_adv_win_scale": 2,
    "net.ipv4.tcp_early_retrans": 2, "net.ipv4.ip_local_port_range": "10240 60999", "net.ipv4.ip_default_ttl": 63,
    "net.ipv4.icmp_ratelimit": 500, "net.ipv4.tcp_retries1": 4,
}


def sh(argv, **kwargs):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, universal_newlines=True, **kwargs).stdout


def main():
    if os.geteuid() != 0:
        sys.exit("tune_vs_sysctl: needs root (it changes a namespace's sysctls and a loop device)")
    assert len(SYSCTL) == 40
    work = tempfile.mkdtemp(prefix="hostperf-bench-")
    backing = os.path.join(work, "disk.img")
    with open(backing, "wb") as handle:
        handle.truncate(64 << 20)
    device = sh(["losetup", "--find", "--show", backing]).strip()
    name = os.path.basename(device)
    queue = "/sys/block/%s/queue/" % name
    offered = open(queue + "scheduler").read().replace("[", "").replace("]", "").split()
    block = {"scheduler": "mq-deadline" if "mq-deadline" in offered else offered[-1], "nr_requests": 32,
             "read_ahead_kb": 1024}
    saved_block = {attr: open(queue + attr).read().split("[")[-1].split("]")[0].strip() for attr in block}
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCAL_TEMP=os.path.join(work, "tmp"))
    times = {"hostperf.tuning.tune (1 task)": [], "ansible.posix.sysctl loop (40 + 3 tasks)": []}
    playbooks = dict(zip(times, ("tune_module.yml", "per_key_loop.yml")))
    try:
        for round_ in range(ROUNDS):
            for label, playbook in playbooks.items():
                netns = "hostperf-bench-%d" % os.getpid()
                sh(["ip", "netns", "add", netns])
                for attr, value in saved_block.items():
                    with open(queue + attr, "w") as handle:
                        handle.write(value)
                extra = {"hostperf_bench_sysctl": SYSCTL, "hostperf_bench_block": block,
                         "hostperf_bench_settings": dict(("sysctl:" + key, value) for key, value in SYSCTL.items()),
                         "hostperf_bench_device": name,
                         "hostperf_bench_journal": os.path.join(work, "journal-%d-%s" % (round_, playbook))}
                command = ["ip", "netns", "exec", netns, ISOLATED, os.path.join(work, "etc-%d-%s" % (round_, playbook)),
                           os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", json.dumps(extra), os.path.join(REPO, "tests", "perf", "playbooks", playbook)]
                start = time.perf_counter()
                proc = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      universal_newlines=True, check=False)
                elapsed = time.perf_counter() - start
                sh(["ip", "netns", "delete", netns])
                if proc.returncode != 0:
                    sys.exit("%s failed:\n%s" % (playbook, proc.stdout[-4000:]))
                times[label].append(elapsed)
    finally:
        for attr, value in saved_block.items():
            with open(queue + attr, "w") as handle:
                handle.write(value)
        subprocess.run(["losetup", "--detach", device], check=False)
        shutil.rmtree(work, ignore_errors=True)
    print("apply 40 sysctls + 3 block settings to localhost (median of %d interleaved rounds)" % ROUNDS)
    medians = {label: statistics.median(values) for label, values in times.items()}
    for label, value in medians.items():
        print("  %-45s %7.2f s   (runs: %s)" % (label, value, ", ".join("%.2f" % v for v in times[label])))
    ours, theirs = medians.values()
    print("  speed-up of hostperf.tuning.tune: %.1fx" % (theirs / ours))


if __name__ == "__main__":
    main()
