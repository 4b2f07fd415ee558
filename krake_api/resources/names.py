"""Syntax rules for names, label keys and values, and URLs (as Kubernetes has them).

Each check returns a problem description, or None when the value is fine, so
callers can attach the field path of their choice: validation reports
`metadata.labels["k"]`, selectors report `label_selector`.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Final

DNS_LABEL_MAX: Final = 63
DNS_SUBDOMAIN_MAX: Final = 253
QUALIFIED_NAME_MAX: Final = 63
LABEL_VALUE_MAX: Final = 63

_DNS_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN: Final = re.compile(rf"{_DNS_LABEL.pattern}(\.{_DNS_LABEL.pattern})*")
_QUALIFIED: Final = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def dns_label(value: str) -> str | None:
    """DNS-1123 label: 1-63 lowercase alphanumerics or '-', alphanumeric at both ends."""
    if not value:
        return "must not be empty"
    if len(value) > DNS_LABEL_MAX:
        return f"must be at most {DNS_LABEL_MAX} characters, is {len(value)}"
    if not _DNS_LABEL.fullmatch(value):
        return (
            f"{value!r} is not a DNS-1123 label (lowercase alphanumerics and '-', "
            "starting and ending with an alphanumeric)"
        )
    return None


def dns_subdomain(value: str) -> str | None:
    """DNS-1123 subdomain: 1-253 characters, dot-separated DNS-1123 labels."""
    if not value:
        return "must not be empty"
    if len(value) > DNS_SUBDOMAIN_MAX:
        return f"must be at most {DNS_SUBDOMAIN_MAX} characters, is {len(value)}"
    if not _DNS_SUBDOMAIN.fullmatch(value):
        return (
            f"{value!r} is not a DNS-1123 subdomain (lowercase alphanumerics, '-' and '.', "
            "starting and ending with an alphanumeric)"
        )
    return None


def qualified_name(value: str) -> str | None:
    """A label or annotation key, or a finalizer: `[prefix/]name`.

    The optional prefix is a DNS-1123 subdomain; the name is 1-63 alphanumerics,
    '-', '_' or '.', alphanumeric at both ends.
    """
    prefix, slash, name = value.rpartition("/")
    if slash and (problem := _prefix(prefix)):
        return problem
    if not name:
        return f"{value!r} has an empty name part" if value else "must not be empty"
    if len(name) > QUALIFIED_NAME_MAX:
        return f"name part of {value!r} must be at most {QUALIFIED_NAME_MAX} characters"
    if not _QUALIFIED.fullmatch(name):
        return (
            f"name part of {value!r} must consist of alphanumerics, '-', '_' or '.', "
            "starting and ending with an alphanumeric"
        )
    return None


def _prefix(prefix: str) -> str | None:
    problem = dns_subdomain(prefix)
    return f"prefix {prefix!r}: {problem}" if problem else None


def label_value(value: str) -> str | None:
    """A label value: empty, or up to 63 characters like the name part of a key."""
    if not value:
        return None
    if len(value) > LABEL_VALUE_MAX:
        return f"value must be at most {LABEL_VALUE_MAX} characters, is {len(value)}"
    if not _QUALIFIED.fullmatch(value):
        return (
            f"value {value!r} must consist of alphanumerics, '-', '_' or '.', "
            "starting and ending with an alphanumeric"
        )
    return None


def http_url(value: str) -> str | None:
    """An absolute http or https URL with a host."""
    if not value:
        return "must not be empty"
    try:
        parts = urllib.parse.urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
    else:
        if parts.scheme not in ("http", "https"):
            return f"{value!r} must be an http or https URL"
    if not host:
        return f"{value!r} is not a URL with a host"
    return None
