"""Label and field selectors, parsed once and matched many times.

The watch cache matches every event against every watcher's selector, so
parsing compiles a selector into a tuple of plain requirements (key, sense,
frozenset of values) and `matches` does no more than dict look-ups and set
membership per requirement.

Label selectors follow Kubernetes: `k=v`, `k==v`, `k!=v`, `k in (a, b)`,
`k notin (a, b)`, `k` (exists) and `!k` (does not exist), comma-separated and
ANDed. `!=` and `notin` also match objects that lack the key. Two deliberate
differences: an empty value (`k=`, `k in (a,)`) is refused rather than meaning
the empty string, and the set-based `<`/`>` operators are not supported.

Field selectors accept `f=v`, `f==v` and `f!=v` on `metadata.name`,
`metadata.namespace` and `status.state` (by enum value name, e.g. RUNNING).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NamedTuple, NoReturn, TypeAlias

from google.protobuf import descriptor
from google.protobuf.message import Message

from krake_api import errors
from krake_api.resources import names

if TYPE_CHECKING:
    from google._upb import _message as upb_message

    # What `Message.DESCRIPTOR` is typed as: the pure-Python or the upb descriptor.
    Descriptor: TypeAlias = descriptor.Descriptor | upb_message.Descriptor

LABEL_SELECTOR: Final = "label_selector"
FIELD_SELECTOR: Final = "field_selector"


class Requirement(NamedTuple):
    """One compiled requirement.

    `values` None tests existence of `key`; otherwise the label's value must be
    in `values`. `positive` False negates the test (a missing key then passes
    the negated set test, as in Kubernetes).
    """

    key: str
    positive: bool
    values: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed label selector; all requirements must hold."""

    requirements: tuple[Requirement, ...]

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        """Parse `text`; raise InvalidArgument on `label_selector` if it is malformed."""
        return cls(_LabelParser(text).parse())

    @property
    def empty(self) -> bool:
        """True when the selector selects everything."""
        return not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, positive, values in self.requirements:
            value = labels.get(key)
            if values is None:
                if (value is not None) is not positive:
                    return False
            elif value is None:
                if positive:
                    return False
            elif (value in values) is not positive:
                return False
        return True


# --- label selector parsing --------------------------------------------------

_SPECIAL: Final = frozenset("!=(),")
_KEYWORDS: Final = frozenset({"in", "notin"})
_IDENT: Final = "identifier"
_END: Final = "end"


class _Token(NamedTuple):
    kind: str  # _IDENT, _END, or the operator text itself: "!", "=", "==", "!=", "(", ")", ","
    text: str

    def __str__(self) -> str:
        return "end of selector" if self.kind == _END else repr(self.text)


class _Operator(NamedTuple):
    positive: bool
    takes_set: bool


_OPERATORS: Final[Mapping[str, _Operator]] = {
    "=": _Operator(positive=True, takes_set=False),
    "==": _Operator(positive=True, takes_set=False),
    "!=": _Operator(positive=False, takes_set=False),
    "in": _Operator(positive=True, takes_set=True),
    "notin": _Operator(positive=False, takes_set=True),
}


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif text.startswith(("!=", "=="), i):
            tokens.append(_Token(text[i : i + 2], text[i : i + 2]))
            i += 2
        elif char in _SPECIAL:
            tokens.append(_Token(char, char))
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _SPECIAL:
                i += 1
            tokens.append(_Token(_IDENT, text[start:i]))
    tokens.append(_Token(_END, ""))
    return tokens


class _LabelParser:
    """Recursive descent over the tokens: selector := requirement (',' requirement)*."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _lex(text)
        self.pos = 0

    def parse(self) -> tuple[Requirement, ...]:
        if self._peek().kind == _END:
            return ()
        requirements = [self._requirement()]
        while self._peek().kind == ",":
            self._take()
            requirements.append(self._requirement())
        if (token := self._peek()).kind != _END:
            self._fail(f"expected ',' or end of selector, found {token}")
        return tuple(requirements)

    def _requirement(self) -> Requirement:
        token = self._take()
        if token.kind == "!":
            key = self._key(self._take())
            if (after := self._peek()).kind not in (",", _END):
                self._fail(f"'!{key}' takes no operator, found {after}")
            return Requirement(key, False, None)
        key = self._key(token)
        if self._peek().kind in (",", _END):
            return Requirement(key, True, None)
        token = self._take()
        op = _OPERATORS.get(token.text) if token.kind != _END else None
        if op is None:
            self._fail(f"expected an operator (=, ==, !=, in, notin) after {key!r}, found {token}")
        values = self._set(key) if op.takes_set else frozenset({self._value(self._take(), key)})
        return Requirement(key, op.positive, values)

    def _set(self, key: str) -> frozenset[str]:
        if (token := self._take()).kind != "(":
            self._fail(f"expected '(' after the operator of {key!r}, found {token}")
        values = [self._value(self._take(), key)]
        while (token := self._take()).kind == ",":
            values.append(self._value(self._take(), key))
        if token.kind != ")":
            self._fail(f"expected ',' or ')' in the values of {key!r}, found {token}")
        return frozenset(values)

    def _key(self, token: _Token) -> str:
        if token.kind != _IDENT or token.text in _KEYWORDS:
            self._fail(f"expected a label key, found {token}")
        if problem := names.qualified_name(token.text):
            self._fail(f"key {token.text!r}: {problem}")
        return token.text

    def _value(self, token: _Token, key: str) -> str:
        if token.kind != _IDENT:
            self._fail(f"expected a value for {key!r}, found {token}")
        if problem := names.label_value(token.text):
            self._fail(f"key {key!r}: {problem}")
        return token.text

    def _peek(self) -> _Token:
        return self.tokens[self.pos]

    def _take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return token

    def _fail(self, problem: str) -> NoReturn:
        violation = errors.FieldViolation(LABEL_SELECTOR, f"{self.text!r}: {problem}")
        raise errors.InvalidArgument([violation])


# --- field selectors ---------------------------------------------------------


class FieldRequirement(NamedTuple):
    """`get(obj) == value` must equal `positive`; enum values are compiled to numbers."""

    field: str
    get: Callable[[Any], object]
    positive: bool
    value: str | int


_FIELD_OPERATORS: Final[Mapping[str, bool]] = {"!=": False, "==": True, "=": True}
_STATE_FIELD: Final = "status.state"
_FIELDS: Final[frozenset[str]] = frozenset({"metadata.name", "metadata.namespace", _STATE_FIELD})


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A parsed field selector; all requirements must hold."""

    requirements: tuple[FieldRequirement, ...]

    @classmethod
    def parse(cls, text: str, message: Descriptor) -> FieldSelector:
        """Parse `text` for resources of type `message`.

        Raises InvalidArgument on `field_selector` for malformed terms, fields
        other than metadata.name, metadata.namespace and status.state, a
        status.state on a kind without one, or a state name the kind lacks.
        """
        if not text.strip():
            return cls(())
        return cls(tuple(_field_requirement(term, message) for term in text.split(",")))

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: Message) -> bool:
        return all((get(obj) == value) is positive for _, get, positive, value in self.requirements)


def _field_requirement(term: str, message: Descriptor) -> FieldRequirement:
    field, op, value = _split_term(term)
    if field not in _FIELDS:
        _field_fail(f"unknown field {field!r}; use one of {', '.join(sorted(_FIELDS))}")
    compiled: str | int = _state_number(value, message) if field == _STATE_FIELD else value
    return FieldRequirement(field, operator.attrgetter(field), _FIELD_OPERATORS[op], compiled)


def _split_term(term: str) -> tuple[str, str, str]:
    for op in _FIELD_OPERATORS:  # "!=" and "==" before "="
        field, found, value = term.partition(op)
        if found:
            return field.strip(), op, value.strip()
    _field_fail(f"{term.strip()!r} is not of the form field=value, field==value or field!=value")


def _state_number(name: str, message: Descriptor) -> int:
    status = message.fields_by_name.get("status")
    status_type = status.message_type if status else None
    state = status_type.fields_by_name.get("state") if status_type else None
    if state is None or state.enum_type is None:
        _field_fail(f"{message.name} has no {_STATE_FIELD}")
    value = state.enum_type.values_by_name.get(name)
    if value is None:
        known = ", ".join(v.name for v in state.enum_type.values)
        _field_fail(f"{name!r} is not a state of {message.name}; use one of {known}")
    return int(value.number)


def _field_fail(problem: str) -> NoReturn:
    raise errors.InvalidArgument([errors.FieldViolation(FIELD_SELECTOR, problem)])
