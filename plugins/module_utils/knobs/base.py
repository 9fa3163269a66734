# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interface every kind of tunable implements, so the engine never needs to know kinds.

A knob is one live value with an identity ("sysctl:net.core.somaxconn",
"block:nvme0n1:scheduler"). It validates a desired value before anything
changes, reads and writes the live value, compares values the way the kernel
means them, and says how its kind is persisted across reboots.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.identity import IdentityError
from ansible_collections.hostperf.tuning.plugins.module_utils.knobs.scope import MACHINE


# The first line of every file the collection generates; without its "# " where the format has no comments.
MANAGED = "Managed by hostperf.tuning: changes here are overwritten; roll back with hostperf.tuning.rollback."
HEADER = "# %s\n" % MANAGED


class KnobError(ValueError):
    """A setting that cannot be applied; the message names the setting and the reason."""


class Persistence:
    """The file that carries every managed setting of a kind across reboots.

    render receives [(knob, value, data)] sorted by identity and returns the
    file's content, or None when the file should not exist. A kind whose
    settings need several files (a boot helper, its unit) overrides
    render_files; after_change names commands to run once its files changed
    (systemctl daemon-reload), on apply and on rollback.
    """

    # Why after_change may not run from the boot recovery, early in a boot (update-grub: /boot may not be
    # mounted yet); `rollback interrupted` runs it. None: it may.
    boot_unsafe = None

    def __init__(self, path, render, after_change=(), unit=None):
        self.path = path
        self.render = render
        self.after_change = tuple(after_change)
        self.unit = unit  # (name, path) of a RemainAfterExit unit among this kind's files

    def hooks(self, tree):
        """The commands to run once this kind's files changed, as the host is now (after_change by default).

        A RemainAfterExit unit whose file a rollback removed stays active until stopped: it is stopped.
        """
        if self.unit and not tree.exists(self.unit[1]) and tree.run(
                ["systemctl", "show", "-p", "ActiveState", "--value", self.unit[0]]).stdout.strip() == "active":
            return (["systemctl", "stop", self.unit[0]],) + self.after_change
        return self.after_change

    def owns(self, path):
        """Whether path is one of this kind's files, so a rollback knows whose hook to run."""
        return bool(self.path) and path == self.path

    def render_files(self, entries):
        """{path: text or None} for these entries."""
        return {self.path: self.render(entries)} if self.path else {}

    def mode(self, path):
        return 0o644


NO_FILES = Persistence(None, None)  # a kind whose live state persists by itself (systemd enablement)


# What measuring a change in AB/BA pairs costs (docs/gate.md): a cheap knob is switched between trials; an inert
# one (a loaded module) changes nothing measured by itself and stays as the change left it; a costly one (a link
# reset, a restarted daemon, memory reserved) rules pairs out and the change is measured in blocks.
SWITCH_CHEAP, SWITCH_INERT, SWITCH_COSTLY = "cheap", "inert", "costly"


class Knob:
    kind = None
    grammar = None  # identity.Grammar: how this kind's identities are spelled, for the parser and docs/identities.md
    # Lower first: a block device's scheduler before its nr_requests, which a
    # scheduler switch resets.
    order = 50
    persistence = None
    # Another daemon may move this value in the moment after we set it (an irqbalance pass still in flight
    # while it restarts with our ban): verify sets it once more before calling the kernel's answer final.
    drifts = False
    switching = SWITCH_COSTLY
    # Whose the value is (knobs.scope): a container owns only its namespaces' settings and its own units.
    scope = MACHINE
    # The value lives in this kind's files and what their hooks generate (a boot loader's configuration): write
    # only checks it, and a rollback reads it back once the files are restored and the hooks ran.
    borne_by_files = False

    def __init__(self, tree, name):
        self.tree = tree
        self.name = name

    @classmethod
    def create(cls, tree, name):
        """The knob for the name after 'kind:'; a kind of several mechanisms picks the class here."""
        return cls(tree, name)

    @classmethod
    def fields_of(cls, name):
        """{field: text} of name by this kind's grammar, or KnobError naming the expected form."""
        try:
            return cls.grammar.parse(name)
        except IdentityError as exc:
            raise KnobError(str(exc))

    @property
    def identity(self):
        return "%s:%s" % (self.kind, self.name)

    def validate(self, value):
        """The normalised desired value; raises KnobError before any change."""
        raise NotImplementedError

    def validate_with(self, value, request):
        """Refuse value when another setting of the same request {identity: value} makes the kernel refuse it.

        The limit of nr_requests, say, is set by the scheduler the request leaves active.
        """

    def read(self):
        """The normalised live value."""
        raise NotImplementedError

    def write(self, value):
        """Make value live; raises OSError with the kernel's answer when refused."""
        raise NotImplementedError

    def equal(self, first, second):
        return first == second

    def requires(self, value):
        """{identity: value} of other settings this value needs first (a scheduler's module, say)."""
        return {}

    def coupled(self):
        """Identities whose values the kernel changes as a side effect of writing this knob."""
        return []

    def whereabouts(self):
        """What finds this setting's object again once a boot renumbered it (an IRQ's name), journaled; or None."""
        return None

    def relocated(self, where):
        """The knob for the object whereabouts() named, as it is numbered now; KnobError when none has it."""
        return self

    @staticmethod
    def where_persisted(data):
        """The whereabouts a managed state entry's persist_data() recorded, or None."""
        return None

    def settles_later(self, value):
        """Why the live value may differ from value for now with nothing left undone (a module still in use
        unloads once its users are gone, and nothing loads it at boot any more), or None."""
        return None

    def spent_by_boot(self, value):
        """For a value the boot loader takes once (a boot-once trial): (spent, why) once a boot took it, where
        spent says the running kernel got it; None for every other knob."""
        return None

    def awaits_boot(self, value, previous=None):
        """Why the running kernel does not use value, set or to be set in place of previous, until the next boot
        (a command line), or None."""
        return None

    def disruption(self):
        """What changing this value does besides setting it (a link reset, say), for the operator; or None."""
        return None

    def switch_cost(self):
        """SWITCH_CHEAP, SWITCH_INERT or SWITCH_COSTLY; anything disruptive is costly."""
        return SWITCH_COSTLY if self.disruption() else self.switching

    def persist_data(self):
        """What the persistence file needs besides the value (a udev match, say)."""
        return {}

    def __repr__(self):
        return "<%s %s>" % (type(self).__name__, self.identity)
