# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A program made of this collection's module_utils, as one text file a host runs without Ansible.

A boot helper must do what the module does with the same code (the journal's checks, the file restore),
not with a copy of it. The sources come from the modules' own loaders (the module's zip on a host, the
collection on the controller), so the helper is the code the apply ran; they are embedded in the file with an
importer that serves them, and nothing from the host's sys.path can stand in for them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import importlib
import json

PREFIX = "ansible_collections.hostperf.tuning.plugins.module_utils"

# Runs inside the generated program, before its entry point is imported.
_IMPORTER = '''
import importlib.abc
import importlib.util
import sys


class BundledSources(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serve the embedded modules first: a collection installed on the host cannot stand in for them."""

    def find_spec(self, name, path=None, target=None):
        if name in SOURCES or name in PACKAGES:
            return importlib.util.spec_from_loader(name, self, is_package=name in PACKAGES)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        if module.__name__ in SOURCES:
            code = compile(SOURCES[module.__name__], "<bundled>/" + module.__name__.replace(".", "/") + ".py",
                           "exec")
            exec(code, module.__dict__)


sys.meta_path.insert(0, BundledSources())
'''


class BundleError(RuntimeError):
    pass


def _source(name):
    module = importlib.import_module(name)
    source = module.__loader__.get_source(name)
    if not source:
        raise BundleError("cannot read the source of %s to build a helper from it" % name)
    return source.decode("utf-8") if isinstance(source, bytes) else source


def _is_module(name):
    try:
        module = importlib.import_module(name)
    except ImportError:
        return False
    return not hasattr(module, "__path__")


def closure(entry):
    """{module name: source} of entry and every collection module it imports, however deep."""
    sources, todo = {}, [entry]
    while todo:
        name = todo.pop()
        if name in sources:
            continue
        sources[name] = _source(name)
        for node in ast.walk(ast.parse(sources[name])):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
                for alias in node.names:
                    inner = "%s.%s" % (node.module, alias.name)
                    todo.append(inner if _is_module(inner) else node.module)
            elif isinstance(node, ast.Import):
                todo.extend(alias.name for alias in node.names if alias.name.startswith(PREFIX + "."))
    return sources


def program(entry, call, header):
    """The text of a Python 3 program that runs `call` (a statement) after importing entry's closure.

    header: comment lines for the top of the file (who made it, what it is for).
    """
    sources = closure(entry)
    packages = sorted(set(".".join(name.split(".")[:depth]) for name in sources
                          for depth in range(1, name.count(".") + 1)))
    return "".join([
        "#!/usr/bin/python3\n", header,
        "# The collection modules it runs are embedded below, as the apply that wrote it had them.\n",
        "SOURCES = ", json.dumps(sources, indent=0, sort_keys=True), "\n",
        "PACKAGES = ", json.dumps(packages), "\n",
        _IMPORTER, "\n",
        "from %s import %s  # noqa: E402\n" % tuple(entry.rsplit(".", 1)),
        call, "\n"])
