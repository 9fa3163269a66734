"""A fixture tree that answers writes the way the kernel does.

Choice files (the I/O scheduler) accept only an offered choice and move the
brackets; a scheduler switch replaces queue/iosched with the new elevator's
defaults and bfq turns wbt_lat_usec off (a written one stays), as kernel 6.18
does; nr_requests behaves as blk-mq's: a scheduler switch resets it (to
the hardware tag depth without a scheduler, to twice that up to 256 with one),
a write above the limit (2048 with a scheduler, the tag depth without) is
refused and one below 4 reads 4; integer files
refuse non-integers; tcp_congestion_control accepts only an available
algorithm; modprobe loads, unloads and dry-runs modules of a configured set.
ethtool answers from the capture's recorded output and changes it the way
drivers do: rings above the maximum are refused, fixed features stay as they
are, turning tx checksumming off drops TSO, a channel change re-creates the
interface's queues. tc shows and changes root qdiscs as the kernel does: each
interface starts on net.core.default_qdisc (mq over one per queue on a
multi-queue NIC, noop when down, noqueue when virtual), a root with handle 0:
cannot be deleted, deleting a configured root attaches the default of that
moment; a qdisc module is in use while a qdisc or the default names it, and
any module while its refcnt says so. Individual paths can be made to refuse writes (EINVAL,
EBUSY, ...) to inject faults.
"""

import errno
import hashlib
import json
import os
import re
import shutil
import stat

import pytest

from ansible_collections.hostperf.tuning.plugins.module_utils.host import files
from ansible_collections.hostperf.tuning.plugins.module_utils.host.cpulist import format_cpulist
from ansible_collections.hostperf.tuning.plugins.module_utils.host.hosttree import COMMANDS_FILE, CommandResult, HostTree
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.base import KnobError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.nic_ethtool import FEATURE_ALIASES
from ansible_collections.hostperf.tuning.plugins.module_utils.detect.block import tag_depth
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.block import MAX_SCHED_RQ, SCHEDULER_MODULES
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.module_api import tune
from ansible_collections.hostperf.tuning.plugins.module_utils.engine.transaction import Engine

_INTEGERS = re.compile(r"^-?[0-9]+([ \t]+-?[0-9]+)*\Z")  # the kernel parses ASCII digits only
NR_REQUESTS_AFTER_SWITCH = "256"
# Each elevator's tunables and their defaults on a loop device, kernel 6.18.
ELEVATOR_DEFAULTS = {
    "mq-deadline": {"async_depth": "256", "fifo_batch": "16", "front_merges": "1", "prio_aging_expire": "10000",
                    "read_expire": "500", "write_expire": "5000", "writes_starved": "2"},
    "bfq": {"back_seek_max": "16384", "back_seek_penalty": "2", "fifo_expire_async": "250", "fifo_expire_sync": "125",
            "low_latency": "1", "max_budget": "0", "slice_idle": "8", "slice_idle_us": "8000",
            "strict_guarantees": "0", "timeout_sync": "124"},
    "kyber": {"read_lat_nsec": "2000000", "write_lat_nsec": "10000000"},
}
ETHTOOL_QUERY = {"-G": "-g", "-L": "-l", "-K": "-k", "-C": "-c"}
SECTION_LABELS = {"rx": "RX", "tx": "TX", "rx-mini": "RX Mini", "rx-jumbo": "RX Jumbo", "combined": "Combined",
                  "other": "Other"}
# Offloads the kernel turns off when what they need goes off.
NEEDED_BY = {"tx-checksumming": ["tcp-segmentation-offload"], "scatter-gather": ["tcp-segmentation-offload"]}
QDISC_STATE = ".hostperf-fake-qdiscs.json"  # written only while the qdiscs differ from the tree's first state
NOT_SUPPORTED = CommandResult(95, stderr="netlink error: Operation not supported\n")


def _recorded_roots(text):
    """The fake's {interface: root} from what a capture recorded tc printing."""
    roots = {}
    for entry in json.loads(text):
        if entry.get("root"):
            roots[entry["dev"]] = {"kind": entry["kind"], "handle": entry["handle"]}
    for entry in json.loads(text):
        if not entry.get("root") and entry["dev"] in roots:
            root = roots[entry["dev"]]
            root.update(leaf=entry["kind"], queues=root.get("queues", 0) + 1)
    return roots


def _refused(path, code):
    return OSError(code, os.strerror(code), path)


class Killed(BaseException):
    """Stands for SIGKILL: no except clause of the engine sees it, nothing after it runs."""


def kill_inside(monkeypatch, target, nth=1, call="rename"):
    """SIGKILL at the nth rename of a temporary over a path ending in target (or at its nth unlink)."""
    real = getattr(os, call)
    seen = []

    def killing(path, *rest, **keywords):
        destination = rest[0] if rest else path
        temporary = os.path.basename(path).startswith(".hostperf-")
        if destination.endswith(target) and temporary == (call == "rename"):
            seen.append(destination)
            if len(seen) == nth:
                raise Killed(destination)
        return real(path, *rest, **keywords)
    monkeypatch.setattr(files.os, call, killing)
    return lambda: monkeypatch.setattr(files.os, call, real)


def apply_steps(tree, desired):
    """The engine's fault points an apply of desired passes, in order (it runs the apply)."""
    seen = []
    Engine(tree, Journal(tree), fault=seen.append).apply(desired)
    return seen


def apply_killed_at(tree, desired, step):
    """An apply of desired that SIGKILL stops at step, one of its fault points."""
    def kill(at):
        if at == step:
            raise Killed(at)
    with pytest.raises(Killed):
        Engine(tree, Journal(tree), fault=kill).apply(desired)


class FakeKernelTree(HostTree):
    def __init__(self, root, loadable=(), refuse=None, units=None):
        HostTree.__init__(self, root, commands=self._command)
        self.loadable = set(loadable)
        self.refuse = dict(refuse or {})
        self.writes = []
        # {unit: {"active": ..., "enabled": ...}}; systemctl answers from it
        self.units = dict(units or {})
        self.systemctl = []
        # wbt_lat_usec files written (no longer the kernel's default), and defaults bfq turned off
        self.wbt_set, self.wbt_default = set(), {}
        for disk in self.listdir("/sys/block"):  # an active elevator has its tunables (captures may lack them)
            queue = "/sys/block/%s/queue" % disk
            active = (re.search(r"\[(\S+)\]", self.read(queue + "/scheduler") or "") or [None, None])[1]
            if active in ELEVATOR_DEFAULTS and not self.isdir(queue + "/iosched"):
                self._make_elevator(queue, active)
        recorded = (self._recorded or {}).get("tc -j qdisc show")
        self.qdiscs_at_start = _recorded_roots(recorded["stdout"]) if recorded else dict(
            (device, self._default_root(device)) for device in self.listdir("/sys/class/net"))

    def write(self, path, value):
        if path in self.refuse:
            raise _refused(path, self.refuse[path])
        real = self.path(path)
        with open(real) as handle:
            current = handle.read().strip()
        if "[" in current:
            options = [word.strip("[]") for word in current.split()]
            if value not in options and path.endswith("/queue/scheduler") and self._module_loaded(value):
                options.append(value)
            if value not in options:
                raise _refused(path, errno.EINVAL)
            text = " ".join("[%s]" % option if option == value else option for option in options)
            if path.endswith("/queue/scheduler") and value != (re.search(r"\[(\S+)\]", current) or [None, None])[1]:
                self._put(path.rsplit("/", 1)[0] + "/nr_requests", self._nr_requests_after_switch(path, value))
                self._switch_elevator(path.rsplit("/", 1)[0], value)
        elif path.endswith("/queue/nr_requests"):
            if not _INTEGERS.match(value.strip()) or int(value) > self._nr_requests_limit(path):
                raise _refused(path, errno.EINVAL)
            text = str(max(4, int(value)))  # BLKDEV_MIN_RQ
            if self.exists(path.rsplit("/", 1)[0] + "/iosched/async_depth"):
                self._put(path.rsplit("/", 1)[0] + "/iosched/async_depth", text)  # mq-deadline's depth_updated
        elif path.endswith("tcp_congestion_control"):
            available = (self.read("/proc/sys/net/ipv4/tcp_available_congestion_control") or "").split()
            if value not in available:
                raise _refused(path, errno.ENOENT)
            text = value
        elif path.endswith("/power/pm_qos_resume_latency_us") and value == "n/a":
            text = value  # the kernel's word for "no latency at all"
        elif _INTEGERS.match(current) and not path.endswith(("_cpus", "_list")):  # CPU masks and lists
            if not _INTEGERS.match(value.strip()):
                raise _refused(path, errno.EINVAL)
            text = "\t".join(value.split())
        else:
            text = value
        if path.endswith("/queue/wbt_lat_usec"):
            self.wbt_set.add(path)
        self.writes.append((path, value))
        self._put(path, text)

    def _switch_elevator(self, queue, scheduler):
        """The old elevator's tunables go with it, the new one starts from its defaults; bfq turns writeback
        throttling off unless someone set it, and leaving bfq turns the default back on (kernel 6.18)."""
        shutil.rmtree(self.path(queue + "/iosched"), ignore_errors=True)
        if scheduler in ELEVATOR_DEFAULTS:
            self._make_elevator(queue, scheduler)
        wbt = queue + "/wbt_lat_usec"
        if not self.exists(wbt) or wbt in self.wbt_set:
            return
        if scheduler == "bfq":
            self.wbt_default.setdefault(wbt, self.read(wbt).strip())
            self._put(wbt, "0")
        elif wbt in self.wbt_default:
            self._put(wbt, self.wbt_default.pop(wbt))

    def _make_elevator(self, queue, scheduler):
        os.makedirs(self.path(queue + "/iosched"))
        for name, default in ELEVATOR_DEFAULTS[scheduler].items():
            # mq-deadline's async_depth starts at the queue's depth
            self._put(queue + "/iosched/" + name, (self.read(queue + "/nr_requests") or default).strip()
                      if name == "async_depth" else default)

    def _tags(self, queue_path):
        """The hardware tag depth of the disk whose queue file this is, or None where the fixture has none."""
        return tag_depth(self, queue_path.split("/")[3])

    def _nr_requests_after_switch(self, path, scheduler):
        tags = self._tags(path)
        if tags is None:
            return NR_REQUESTS_AFTER_SWITCH
        return str(tags if scheduler == "none" else 2 * min(tags, 128))

    def _nr_requests_limit(self, path):
        scheduler = re.search(r"\[(\S+)\]", self.read(path.rsplit("/", 1)[0] + "/scheduler") or "[none]")
        if scheduler and scheduler.group(1) != "none":
            return MAX_SCHED_RQ
        tags = self._tags(path)
        return tags if tags is not None else 65536

    def _module_loaded(self, scheduler):
        module = SCHEDULER_MODULES.get(scheduler)
        return module is not None and module in (self.read("/proc/modules", default="") or "")

    def _put(self, path, text):
        with open(self.path(path), "w") as handle:
            handle.write(text + "\n")

    def _command(self, argv):
        if argv[0] == "ethtool":
            return self._ethtool(argv)
        if argv[0] == "tc":
            return self._tc(argv[1:])
        if argv[0] == "systemctl":
            return self._systemctl(argv[1:])
        if argv[0] != "modprobe":
            return CommandResult(127, stderr="%s: not emulated" % argv[0], missing=True)
        name = argv[-1]
        modules_path = self.path("/proc/modules")
        lines = open(modules_path).read().splitlines() if os.path.exists(modules_path) else []
        loaded = [line.split(" ", 1)[0] for line in lines]
        if "--dry-run" in argv:
            ok = name in self.loadable or name in loaded
            return CommandResult(0 if ok else 1, stderr="" if ok else "modprobe: FATAL: Module %s not found" % name)
        if "-r" in argv:
            if not self._drop_scheduler(name) or self._module_users(name):
                return CommandResult(1, stderr="modprobe: FATAL: Module %s is in use." % name)
            lines = [line for line in lines if line.split(" ", 1)[0] != name]
            self._set_available_cc(name, remove=True)
        elif name in self.loadable:
            if name not in loaded:
                lines.append("%s 16384 0 - Live 0x0" % name)
            self._set_available_cc(name)
        else:
            return CommandResult(1, stderr="modprobe: FATAL: Module %s not found" % name)
        with open(modules_path, "w") as handle:
            handle.write("".join(line + "\n" for line in lines))
        return CommandResult(0)

    def _module_users(self, name):
        qdisc = name[len("sch_"):] if name.startswith("sch_") else None
        if qdisc and (qdisc == (self.read("/proc/sys/net/core/default_qdisc") or "").strip() or any(
                qdisc in (root["kind"], root.get("leaf")) for root in self.qdiscs().values())):
            return True
        return (self.read("/sys/module/%s/refcnt" % name) or "0").strip() not in ("", "0")

    # -- tc ----------------------------------------------------------------
    def _default_root(self, device, default=None):
        base = "/sys/class/net/" + device
        if not self.exists(base + "/device"):
            return {"kind": "noqueue", "handle": "0:"}
        if (self.read(base + "/operstate") or "").strip() == "down":
            return {"kind": "noop", "handle": "0:"}
        default = default or (self.read("/proc/sys/net/core/default_qdisc") or "pfifo_fast").strip()
        queues = len([queue for queue in self.listdir(base + "/queues") if queue.startswith("tx-")])
        if queues > 1:
            return {"kind": "mq", "handle": "0:", "leaf": default, "queues": queues}
        return {"kind": default, "handle": "0:"}

    def qdiscs(self):
        """{interface: its root} as tc would show them now."""
        path = os.path.join(self.root, QDISC_STATE)
        if os.path.exists(path):
            with open(path) as handle:
                return json.load(handle)
        return dict(self.qdiscs_at_start)

    def _set_qdiscs(self, roots):
        path = os.path.join(self.root, QDISC_STATE)
        if roots == self.qdiscs_at_start:
            if os.path.exists(path):
                os.unlink(path)
            return
        with open(path, "w") as handle:
            json.dump(roots, handle, sort_keys=True)

    def _tc(self, args):
        roots = self.qdiscs()
        if args == ["-j", "qdisc", "show"]:
            shown = []
            for device, root in sorted(roots.items()):
                shown.append({"kind": root["kind"], "handle": root["handle"], "dev": device, "root": True})
                shown.extend({"kind": root["leaf"], "handle": "0:", "dev": device, "parent": ":%x" % (queue + 1)}
                             for queue in range(root.get("queues", 0)))
            return CommandResult(0, json.dumps(shown))
        if len(args) in (5, 6) and args[:2] in (["qdisc", "replace"], ["qdisc", "del"]) and args[2] == "dev" \
                and args[4] == "root":
            device = args[3]
            if device not in roots:
                return CommandResult(1, stderr="Cannot find device \"%s\"\n" % device)
            if args[1] == "replace":
                roots[device] = {"kind": args[5], "handle": "8001:"}
            elif roots[device]["handle"] == "0:":
                return CommandResult(2, stderr="Error: Cannot delete qdisc with handle of zero.\n")
            else:
                roots[device] = self._default_root(device)
            self._set_qdiscs(roots)
            self.writes.append(("tc",) + tuple(args))
            return CommandResult(0)
        return CommandResult(1, stderr="tc %s: not emulated" % " ".join(args))

    # -- systemctl ---------------------------------------------------------
    def _systemctl(self, args):
        if args[0] == "--no-block":  # queued, not waited for: the fake's jobs finish at once either way
            args = args[1:]
        verb, unit = args[0], (args[1:] or [None])[0]
        if verb == "show":  # show -p PROPERTY --value UNIT
            unit = args[-1]
            if unit not in self.units:
                return CommandResult(0, "not-found\n" if args[2] == "LoadState" else "\n")
            state = dict({"LoadState": "loaded", "ActiveState": self.units[unit].get("active", "")}, **self.units[unit])
            return CommandResult(0, state.get(args[2], "") + "\n")
        if verb in ("daemon-reload", "try-restart"):
            self.systemctl.append(" ".join(args))
            return CommandResult(0)
        state = self.units.get(unit)
        if state is None:  # as systemd 252 answers for a unit that does not exist
            return CommandResult(4, "inactive\n") if verb == "is-active" else CommandResult(
                1, "", "Failed to get unit file state for %s: No such file or directory\n" % unit)
        if verb in ("is-active", "is-enabled"):
            value = state["active" if verb == "is-active" else "enabled"]
            return CommandResult(0 if value in ("active", "enabled") else 3, value + "\n")
        changes = {"start": ("active", "active"), "stop": ("active", "inactive"),
                   "enable": ("enabled", "enabled"), "disable": ("enabled", "disabled"), "mask": ("enabled", "masked")}
        aspect, value = changes[verb]
        state[aspect] = value
        self.writes.append(("systemctl", verb, unit))
        return CommandResult(0)

    def set_affinity(self, task, cpus):
        """What sched_setaffinity shows: the task's Cpus_allowed_list."""
        path = self.path("/proc/%s/status" % task)
        if not os.path.exists(path):
            raise _refused(path, errno.ESRCH)
        with open(path) as handle:
            text = handle.read()
        text = re.sub(r"(?m)^Cpus_allowed_list:\t.*$", "Cpus_allowed_list:\t" + format_cpulist(cpus), text)
        with open(path, "w") as handle:
            handle.write(text)
        self.writes.append(("set_affinity", task, format_cpulist(cpus)))

    # -- ethtool -----------------------------------------------------------
    def _ethtool(self, argv):
        flag, name = argv[1], argv[2]
        if flag not in ETHTOOL_QUERY:
            recorded = self._recorded.get(" ".join(argv))
            return CommandResult.from_dict(recorded) if recorded else CommandResult(
                1, stderr="netlink error: no device matches name (offset 24)\n")
        query = "ethtool %s %s" % (ETHTOOL_QUERY[flag], name)
        recorded = self._recorded.get(query)
        if recorded is None or recorded["rc"] != 0:
            return NOT_SUPPORTED
        text = recorded["stdout"]
        pairs = list(zip(argv[3::2], argv[4::2]))
        for parameter, value in pairs:
            if flag in ("-G", "-L"):
                text = self._set_section_value(text, parameter, value)
            elif flag == "-K":
                text = self._set_feature(text, FEATURE_ALIASES.get(parameter, parameter), value)
            else:
                text = self._set_coalesce(text, parameter, value)
            if text is None:
                return CommandResult(1, stderr="netlink error: Invalid argument\n")
        self.writes.append(("ethtool",) + tuple(argv[1:]))
        recorded["stdout"] = text
        self._save_recorded()
        if flag == "-L":
            self._recreate_queues(name, text)
        return CommandResult(0)

    @staticmethod
    def _set_section_value(text, parameter, value):
        """-G/-L: refuse above the maximum, else change the current value."""
        label = SECTION_LABELS.get(parameter)
        maximum = re.search(r"Pre-set maximums:.*?^%s:\s+(\S+)" % label, text, re.S | re.M) if label else None
        if not maximum or maximum.group(1) == "n/a" or int(value) > int(maximum.group(1)):
            return None
        head, sep, tail = text.partition("Current hardware settings:")
        tail = re.sub(r"^(%s:\s+)\S+" % label, lambda m: m.group(1) + value, tail, count=1, flags=re.M)
        return head + sep + tail

    @staticmethod
    def _set_feature(text, feature, value):
        line = re.search(r"^(\s*)%s: (on|off)( \[fixed\])?" % re.escape(feature), text, re.M)
        if not line:
            return None
        if line.group(3):
            return text  # ethtool says nothing and changes nothing
        if value == "on" and any(re.search(r"^%s: off" % needed, text, re.M)
                                 for needed, dependents in NEEDED_BY.items() if feature in dependents):
            return text
        text = text[:line.start(2)] + value + text[line.end(2):]
        if value == "off":
            for dependent in NEEDED_BY.get(feature, ()):
                text = re.sub(r"^(%s: )on" % dependent, r"\1off", text, flags=re.M)
        return text

    @staticmethod
    def _set_coalesce(text, parameter, value):
        if parameter.startswith("adaptive-"):
            side = parameter[len("adaptive-"):].upper()
            pattern = r"(Adaptive RX: \S+  TX: )(\S+)" if side == "TX" else r"(Adaptive RX: )(\S+)"
        else:
            pattern = r"^(%s:\s+)(\S+)" % re.escape(parameter)
        match = re.search(pattern, text, re.M)
        if not match or match.group(2) == "n/a":
            return None
        return text[:match.start(2)] + value + text[match.end(2):]

    def _recreate_queues(self, name, text):
        combined = re.search(r"Current hardware settings:.*?^Combined:\s+(\d+)", text, re.S | re.M)
        if not combined:
            return
        queues = self.path("/sys/class/net/%s/queues" % name)
        count = int(combined.group(1))
        with open(os.path.join(queues, "rx-0", "rps_cpus")) as handle:
            empty_mask = re.sub("[0-9a-f]", "0", handle.read().strip())
        for kind, attribute in (("rx", "rps_cpus"), ("tx", "xps_cpus")):
            for entry in os.listdir(queues):
                if entry.startswith(kind + "-") and int(entry.split("-")[1]) >= count:
                    shutil.rmtree(os.path.join(queues, entry))
            for index in range(count):
                path = os.path.join(queues, "%s-%d" % (kind, index))
                if not os.path.isdir(path):
                    os.makedirs(path)
                    with open(os.path.join(path, attribute), "w") as handle:
                        handle.write(empty_mask + "\n")
                    if kind == "rx":
                        with open(os.path.join(path, "rps_flow_cnt"), "w") as handle:
                            handle.write("0\n")

    def _save_recorded(self):
        with open(os.path.join(self.root, COMMANDS_FILE), "w") as handle:
            json.dump(self._recorded, handle)  # as materialize() writes it, so equal states digest equal

    def _drop_scheduler(self, module):
        """Unloading a scheduler module removes it from every queue; in use, it refuses."""
        schedulers = [name for name, owner in SCHEDULER_MODULES.items() if owner == module]
        if not schedulers:
            return True
        files = [self.path("/sys/block/%s/queue/scheduler" % disk) for disk in self.listdir("/sys/block")]
        files = [path for path in files if os.path.exists(path)]
        for path in files:
            if "[%s]" % schedulers[0] in open(path).read():
                return False
        for path in files:
            words = [word for word in open(path).read().split() if word != schedulers[0]]
            with open(path, "w") as handle:
                handle.write(" ".join(words) + "\n")
        return True

    def _set_available_cc(self, module, remove=False):
        if not module.startswith("tcp_"):
            return
        path = "/proc/sys/net/ipv4/tcp_available_congestion_control"
        names = (self.read(path) or "").split()
        algorithm = module[len("tcp_"):]
        names = [n for n in names if n != algorithm] + ([] if remove else [algorithm])
        self._put(path, " ".join(names))


JOURNAL_DIR = "/var/lib/hostperf"


def tree_digest(root, ignore=(JOURNAL_DIR + "/lock",)):
    """{path: what it is} for every directory, link and file under root: equal digests mean nothing changed.

    Files by sha256, mode and owner; links by their target; directories by mode and owner.
    """
    digest = {}
    for directory, dirs, names in os.walk(root):
        for name in dirs + names:
            real = os.path.join(directory, name)
            path = real[len(root):]
            if path in ignore:
                continue
            info = os.lstat(real)
            if stat.S_ISLNK(info.st_mode):
                digest[path] = ("link", os.readlink(real), info.st_uid, info.st_gid)
            elif stat.S_ISDIR(info.st_mode):
                digest[path] = ("dir", stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
            elif not stat.S_ISREG(info.st_mode):
                digest[path] = ("special", stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), info.st_uid)
            else:
                with open(real, "rb") as handle:
                    digest[path] = (hashlib.sha256(handle.read()).hexdigest(), stat.S_IMODE(info.st_mode),
                                    info.st_uid, info.st_gid)
    return digest


def outside_journal(root, journal_dir=JOURNAL_DIR):
    """tree_digest without the journal directory, what is below it and the directories made to hold it."""
    prefix = journal_dir.rstrip("/") + "/"
    return {path: value for path, value in tree_digest(root).items()
            if not (path + "/").startswith(prefix) and not (prefix.startswith(path + "/") and value[0] == "dir")}


def assert_refused_unchanged(tree, request, words):
    """tune refuses request with a message holding every word, and nothing on the host changed."""
    before = tree_digest(tree.root)
    with pytest.raises(KnobError) as refused:
        tune(tree, Journal(tree), request)
    for word in words:
        assert word in str(refused.value)
    assert tree.writes == [] and tree_digest(tree.root) == before


# -- a host seen from inside a container ------------------------------------------------------------------------
# The inode numbers of the initial namespaces (fixed by the kernel) and of a podman container's, as measured here.
INITIAL_NAMESPACES = {"pid": 4026531836, "ipc": 4026531839, "uts": 4026531838, "user": 4026531837, "mnt": 4026531832}
CONTAINER_NAMESPACES = {"pid": 4026532245, "ipc": 4026532244, "uts": 4026532243, "user": 4026531837,
                        "mnt": 4026532242}
# What a podman container's own network namespace registers under net.core on kernel 6.18 (measured here).
PER_NETNS_CORE = {"optmem_max", "rmem_default", "rmem_max", "rps_default_mask", "somaxconn", "tstamp_allow_data",
                  "txrehash", "wmem_default", "wmem_max"}
GLOBAL_NET_KEYS = ("ipv4/tcp_mem", "ipv4/udp_mem")


def irqs_named(tree, prefix):
    """{IRQ name: number} of the IRQs whose name starts with prefix."""
    found = {}
    for entry in tree.listdir("/sys/kernel/irq"):
        name = tree.read("/sys/kernel/irq/%s/actions" % entry)
        if name and name.startswith(prefix):
            found[name] = int(entry)
    return found


def swap_names(tree, first, second):
    """What a boot does to IRQ numbers: the same handlers, other numbers."""
    names = [tree.read("/sys/kernel/irq/%d/actions" % irq) for irq in (first, second)]
    for irq, name in zip((first, second), reversed(names)):
        with open(tree.path("/sys/kernel/irq/%d/actions" % irq), "w") as handle:
            handle.write(name + "\n")


def write_file(root, path, text):
    os.makedirs(os.path.dirname(root + path), exist_ok=True)
    with open(root + path, "w") as handle:
        handle.write(text)


def namespace_links(root, pid, inodes):
    """/proc/self -> pid, and its ns/* links naming inodes."""
    if os.path.lexists(root + "/proc/self"):
        os.unlink(root + "/proc/self")
    os.makedirs(root + "/proc/%s/ns" % pid, exist_ok=True)
    os.symlink(str(pid), root + "/proc/self")
    for kind, inode in inodes.items():
        os.symlink("%s:[%d]" % (kind, inode), root + "/proc/%s/ns/%s" % (pid, kind))


def containerize(root, marker="/run/.containerenv", own=None, netns=True):
    """A materialized host seen from inside a container: its marker, its namespaces, its netns's net keys only."""
    if marker:
        write_file(root, marker, "")
    namespace_links(root, 4242, own or CONTAINER_NAMESPACES)
    if netns:
        core = root + "/proc/sys/net/core"
        for name in os.listdir(core):
            if name not in PER_NETNS_CORE:
                os.unlink(os.path.join(core, name))
        for key in GLOBAL_NET_KEYS:
            if os.path.exists(root + "/proc/sys/net/" + key):
                os.unlink(root + "/proc/sys/net/" + key)
    return root
