# -*- coding: utf-8 -*-
# Copyright: hostperf.tuning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The identity of a setting, KIND:FIELD[:FIELD...]: the one name it has in plans, overrides, tune's settings,
the journal, state.json and the history.

Each kind of knob declares its fields with a Grammar; this module is the only
place that splits or joins identities, and docs/identities.md is tested
against the kinds' grammars.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

SEPARATOR = ":"


class IdentityError(ValueError):
    """An identity that does not follow its kind's grammar; the message names it and the expected form."""


def split_identity(identity):
    """(kind, name) of 'kind:name'; IdentityError when there is no kind."""
    kind, sep, name = str(identity).partition(SEPARATOR)
    if not sep or not kind or not name:
        raise IdentityError("setting %r: expected KIND:NAME (sysctl:vm.swappiness, block:sda:scheduler, ...)"
                            % (identity,))
    return kind, name


def identity_of(kind, *fields):
    """The identity of kind with these fields; empty optional fields are left out."""
    return SEPARATOR.join([kind] + [str(field) for field in fields if field not in (None, "")])


class Grammar:
    """The fields of one kind's identities, in order.

    "name?" is an optional last field; "name*" may itself hold the separator
    (a sysctl key for an interface alias, a systemd unit name), so the fields
    after it are split from the right.
    """

    def __init__(self, kind, fields, examples):
        self.kind = kind
        self.fields = tuple(fields)
        self.examples = tuple(examples)
        self.names = tuple(field.rstrip("?*") for field in self.fields)

    @property
    def form(self):
        parts = []
        for field in self.fields:
            text = field.rstrip("?*").upper()
            parts.append("[:%s]" % text if field.endswith("?") else ":" + text)
        return self.kind + "".join(parts)

    def parse(self, name):
        """{field: text} of the name after 'kind:'; IdentityError naming the expected form."""
        text = str(name)
        greedy = [index for index, field in enumerate(self.fields) if field.endswith("*")]
        optional = self.fields[-1].endswith("?")
        if greedy:
            pieces = text.split(SEPARATOR, greedy[0])
            after = len(self.fields) - greedy[0] - 1
            parts = pieces[:-1] + (pieces[-1].rsplit(SEPARATOR, after) if after else pieces[-1:])
        else:
            parts = text.split(SEPARATOR, len(self.fields) - 1)
        if optional and len(parts) == len(self.fields) - 1:
            parts.append("")
        if len(parts) != len(self.fields) or not all(parts[index] for index, field in enumerate(self.fields)
                                                     if not field.endswith("?")):
            raise IdentityError("setting %r: expected %s (for example %s)"
                                % (identity_of(self.kind, text), self.form, self.examples[0]))
        return dict(zip(self.names, parts))

    def format(self, **fields):
        return identity_of(self.kind, *(fields.get(name) for name in self.names))
