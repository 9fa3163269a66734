"""A fixture tree that answers writes the way the kernel does.

Choice files (the I/O scheduler) accept only an offered choice and move the
brackets; a scheduler switch resets nr_requests as blk-mq does; integer files
refuse non-integers; tcp_congestion_control accepts only an available
algorithm; modprobe loads, unloads and dry-runs modules of a configured set.
Individual paths can be made to refuse writes (EINVAL, EBUSY, ...) to inject
faults.
"""

import errno
import hashlib
import os
import re

from ansible_collections.hostperf.tuning.plugins.module_utils.hosttree import CommandResult, HostTree
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.block import SCHEDULER_MODULES

_INTEGERS = re.compile(r"^-?\d+(\s+-?\d+)*$")
NR_REQUESTS_AFTER_SWITCH = "256"


def _refused(path, code):
    return OSError(code, os.strerror(code), path)


class FakeKernelTree(HostTree):
    def __init__(self, root, loadable=(), refuse=None):
        HostTree.__init__(self, root, commands=self._command)
        self.loadable = set(loadable)
        self.refuse = dict(refuse or {})
        self.writes = []

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
                self._put(path.rsplit("/", 1)[0] + "/nr_requests", NR_REQUESTS_AFTER_SWITCH)
        elif path.endswith("tcp_congestion_control"):
            available = (self.read("/proc/sys/net/ipv4/tcp_available_congestion_control") or "").split()
            if value not in available:
                raise _refused(path, errno.ENOENT)
            text = value
        elif _INTEGERS.match(current):
            if not _INTEGERS.match(value.strip()):
                raise _refused(path, errno.EINVAL)
            text = "\t".join(value.split())
        else:
            text = value
        self.writes.append((path, value))
        self._put(path, text)

    def _module_loaded(self, scheduler):
        module = SCHEDULER_MODULES.get(scheduler)
        return module is not None and module in (self.read("/proc/modules", default="") or "")

    def _put(self, path, text):
        with open(self.path(path), "w") as handle:
            handle.write(text + "\n")

    def _command(self, argv):
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
            if not self._drop_scheduler(name):
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


def tree_digest(root, ignore=("/var/lib/hostperf/lock",)):
    """{path: sha256 and mode} of every file under root: two equal digests mean nothing changed."""
    digest = {}
    for directory, dirs, names in os.walk(root):
        for name in names:
            real = os.path.join(directory, name)
            path = real[len(root):]
            if path in ignore or os.path.islink(real):
                continue
            with open(real, "rb") as handle:
                digest[path] = (hashlib.sha256(handle.read()).hexdigest(), os.stat(real).st_mode & 0o7777)
    return digest
