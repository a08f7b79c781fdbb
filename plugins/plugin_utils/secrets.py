# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Masking of values that look like secrets, for everything shown to a person.

A value is masked when its key is named like a secret: the name contains ``password``,
``passwd``, ``secret``, ``token`` or ``key`` (any case: ``dbPassword``, ``apiKey``,
``ssh_key``, ``TOKEN``). Masking works on copies; the real values still reach the targets.
Apply it to property dicts (container and target properties, extra params), not to the
collection's own records, whose ``key`` is a service build's identity.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "********"
SECRET_NAME = re.compile(r"password|passwd|secret|token|key", re.IGNORECASE)


def is_secret_name(name: object) -> bool:
    """Whether a property called ``name`` holds a secret."""
    return isinstance(name, str) and SECRET_NAME.search(name) is not None


def mask(value: Any) -> Any:
    """A copy of ``value`` in which every dict entry whose key is named like a secret has its
    value replaced by ``********`` (whatever that value is: a string, number, list or dict);
    dicts and lists are walked recursively, everything else is returned as it is."""
    if isinstance(value, dict):
        return {k: (MASK if is_secret_name(k) else mask(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    return value


def secret_values(value: Any) -> set[str]:
    """The string forms of every value that ``mask`` hides (to scrub them from free text)."""
    found: set[str] = set()

    def walk(node: Any, hidden: bool) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, hidden or is_secret_name(k))
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v, hidden)
        elif hidden and node is not None and not isinstance(node, bool) and str(node):
            found.add(str(node))

    walk(value, False)
    return found


MIN_SCRUB = 4  # shorter values are left in free text: replacing "1" would garble every number


def scrub(text: str, values: set[str]) -> str:
    """``text`` with every occurrence of one of ``values`` (of at least MIN_SCRUB characters)
    replaced by ``********``."""
    for secret in sorted((v for v in values if len(v) >= MIN_SCRUB), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


# where the collection's own records (manifests, plans, transaction state) keep model data
PROPERTY_KEYS = frozenset(("properties", "containers", "extra_params"))


def mask_properties(value: Any) -> Any:
    """A copy of a collection record with ``mask`` applied to every ``properties``,
    ``containers`` and ``extra_params`` in it, and nothing else touched (a service's ``key``
    stays as it is)."""
    if isinstance(value, dict):
        return {k: (mask(v) if k in PROPERTY_KEYS else mask_properties(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_properties(v) for v in value]
    return value
