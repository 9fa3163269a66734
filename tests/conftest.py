"""Make the collection importable as ansible_collections.hostperf.tuning and load fixture hosts."""

import json
import os
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOSTS_DIR = os.path.join(REPO, "tests", "unit", "fixtures", "hosts")


def _import_root():
    parts = REPO.split(os.sep)
    if parts[-3:-2] == ["ansible_collections"]:
        return os.sep.join(parts[:-3])
    root = tempfile.mkdtemp(prefix="hostperf-collections-")
    os.makedirs(os.path.join(root, "ansible_collections", "hostperf"))
    os.symlink(REPO, os.path.join(root, "ansible_collections", "hostperf", "tuning"))
    return root


sys.path.insert(0, _import_root())

from ansible_collections.hostperf.tuning.plugins.module_utils.engine.journal import Journal  # noqa: E402
from ansible_collections.hostperf.tuning.plugins.module_utils.host.capture import materialize  # noqa: E402
from fakekernel import FakeKernelTree  # noqa: E402


def ansible_env(tmp_path, **extra):
    """The environment for ansible-playbook and ansible-doc runs against this checkout of the collection."""
    import ansible_collections.hostperf.tuning as collection
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.dirname(os.path.dirname(collection.__path__[0])),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_NOCOLOR="1")
    env.update(extra)
    return env


HOST_NAMES = sorted(name[:-5] for name in os.listdir(HOSTS_DIR) if name.endswith(".json"))


def load_capture(name):
    with open(os.path.join(HOSTS_DIR, name + ".json")) as handle:
        return json.load(handle)


@pytest.fixture
def host_root(tmp_path):
    """host_root('dc-2socket') -> a directory holding that host's /sys and /proc."""
    def build(name):
        return materialize(load_capture(name), str(tmp_path / name))
    return build


@pytest.fixture
def dc_host(host_root):
    """(tree, journal, root): dc-2socket on a fake kernel that can load tcp_bbr and sch_fq."""
    root = host_root("dc-2socket")
    tree = FakeKernelTree(root, loadable={"tcp_bbr", "sch_fq"})
    return tree, Journal(tree), root
