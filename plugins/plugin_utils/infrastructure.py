# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Normalisation and validation of infrastructure models, as Disnix's
nix/normalize-infrastructure.nix does, with errors that point into the model file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.disnix.deploy.plugins.plugin_utils.model_error import ModelError
from ansible_collections.disnix.deploy.plugins.plugin_utils.model_loader import LoadedModel

# Attributes of a target that are not properties in the legacy (pre-0.5) form.
RESERVED_TARGET_ATTRIBUTES = ("properties", "containers", "system", "numOfCores", "clientInterface", "targetProperty")
_PORT_RE = re.compile(r"[0-9]{1,5}")


def _short_string(value: str) -> str:
    shown = value if len(value) <= 40 else value[:37] + "..."
    return f"the string {shown!r}"


# how describe() shows a value of each type (bool before int: a bool is an int in Python)
_DESCRIPTIONS = (
    (bool, lambda v: f"a Boolean ({'true' if v else 'false'})"),
    (int, lambda v: f"the integer {v}"),
    (float, lambda v: f"the float {v:g}"),
    (str, _short_string),
    (dict, lambda v: "an attribute set"),
    (list, lambda v: "a list"),
)


def describe(value: Any) -> str:
    """A value's kind in the model's words, with short scalars shown."""
    if value is None:
        return "null"
    for kind, show in _DESCRIPTIONS:
        if isinstance(value, kind):
            return show(value)
    return f"a {type(value).__name__}"


class InfrastructureError(ModelError):
    """A problem with a model, located in its file; ``attribute`` is the attribute path the
    problem is about, such as ``("web", "numOfCores")`` (``()`` for the model as a whole)."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None, column: int | None = None,
                 attribute: tuple = ()) -> None:
        super().__init__(message, path, line, column)
        self.attribute = tuple(attribute)

    def __reduce__(self):
        return (type(self), (self.message, self.path, self.line, self.column, self.attribute))


@dataclass(frozen=True)
class _Defaults:
    """What a target gets for the attributes it leaves out."""

    system: str
    target_property: str
    client_interface: str


class _Checker:
    """Validation of one model: each failure is a ModelError located at the attribute."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model

    def fail(self, message: str, *paths: tuple) -> InfrastructureError:
        """The error, at the first of `paths` that can be located, else at the longest prefix
        of one (a default value has no position of its own: point at its target). The first
        path is the attribute the error is about."""
        attribute = paths[0] if paths else ()
        candidates = [path for path in paths if path] + [path[:end] for path in paths for end in range(len(path) - 1, 0, -1)]
        for candidate in candidates:
            position = self.model.locate(candidate)
            if position is not None:
                return InfrastructureError(message, self.model.path, position[0], position[1], attribute=attribute)
        return InfrastructureError(message, self.model.path, attribute=attribute)

    def string(self, target: dict, name: str, attr: str, default: str) -> str:
        """target[attr] (or the default), which must be a string."""
        value = target.get(attr, default)
        if not isinstance(value, str):
            raise self.fail(f"target '{name}': {attr} must be a string, got {describe(value)}", (name, attr))
        return value


def normalize_infrastructure(model: LoadedModel, *, default_system: str, target_property: str = "hostname",
                             client_interface: str = "disnix-ssh-client") -> dict[str, dict]:
    """The targets of an infrastructure model with Disnix's defaults applied, checked.

    Returns ``{name: {"properties", "containers", "system", "numOfCores", "clientInterface",
    "targetProperty"}}`` sorted by name. The first problem (targets in sorted order) raises
    ModelError with the file, line and column.
    """
    check = _Checker(model)
    data = model.data
    if not isinstance(data, dict):
        raise check.fail(f"the infrastructure model must be an attribute set of targets, got {describe(data)}", ())
    bad_keys = sorted(repr(key) for key in data if not isinstance(key, str))
    if bad_keys:
        raise check.fail(f"target names must be strings, got {bad_keys[0]}", ())
    defaults = _Defaults(default_system, target_property, client_interface)
    return {name: _normalize_target(check, name, data[name], defaults) for name in sorted(data)}


def _normalize_target(check: _Checker, name: str, target: Any, defaults: _Defaults) -> dict:
    if not name or any(ch.isspace() or not ch.isprintable() for ch in name):
        raise check.fail(f"target name {name!r} cannot be used as an Ansible host name: "
                         "it must not be empty or contain whitespace", (name,))
    if not isinstance(target, dict):
        raise check.fail(f"target '{name}' must be an attribute set, got {describe(target)}", (name,))
    properties = _properties(check, name, target)
    containers = _containers(check, name, target)
    system = check.string(target, name, "system", defaults.system)
    cores = target.get("numOfCores", 1)
    if isinstance(cores, bool) or not isinstance(cores, int) or cores < 1:
        raise check.fail(f"target '{name}': numOfCores must be a positive integer, got {describe(cores)}", (name, "numOfCores"))
    interface = check.string(target, name, "clientInterface", defaults.client_interface)
    address_property = check.string(target, name, "targetProperty", defaults.target_property)
    _check_address(check, name, target, properties, address_property)
    return {
        "properties": properties,
        "containers": containers,
        "system": system,
        "numOfCores": cores,
        "clientInterface": interface,
        "targetProperty": address_property,
    }


def _properties(check: _Checker, name: str, target: dict) -> dict:
    if "properties" not in target:
        # pre-0.5 models: every attribute that Disnix does not reserve is a property
        return {key: value for key, value in target.items() if key not in RESERVED_TARGET_ATTRIBUTES}
    properties = target["properties"]
    if not isinstance(properties, dict):
        raise check.fail(f"target '{name}': properties must be an attribute set, got {describe(properties)}", (name, "properties"))
    return dict(properties)


def _containers(check: _Checker, name: str, target: dict) -> dict[str, dict]:
    containers = target.get("containers", {})
    if not isinstance(containers, dict):
        raise check.fail(f"target '{name}': containers must be an attribute set of containers, got {describe(containers)}",
                         (name, "containers"))
    result = {}
    for container in sorted(containers):
        value = containers[container]
        if not isinstance(value, dict):
            raise check.fail(f"target '{name}': container '{container}' must be an attribute set of container properties, "
                             f"got {describe(value)}", (name, "containers", container))
        result[container] = dict(value)
    return result


def _check_address(check: _Checker, name: str, target: dict, properties: dict, prop: str) -> None:
    """targetProperty must name a property that holds a usable address."""
    prefix = ("properties",) if "properties" in target else ()  # properties of the legacy form are attributes
    if prop not in properties:
        defined = ", ".join(sorted(properties)) if properties else "none"
        origin = "its targetProperty" if "targetProperty" in target else "the default targetProperty"
        raise check.fail(f"target '{name}': {origin} is '{prop}', but the target has no property '{prop}' to give its address "
                         f"(properties it defines: {defined})", (name, "targetProperty"), (name,) + prefix)
    try:
        parse_address(properties[prop])
    except ValueError as exc:
        raise check.fail(f"target '{name}': property '{prop}' (its address): {exc}", (name,) + prefix + (prop,)) from None


def target_address(target: dict) -> tuple[str, int | None]:
    """Host and optional ssh port of a normalised target, from properties[targetProperty].

    A URL (a SOAP targetEPR) gives its host, and no port: the URL's port is not the ssh port.
    ``host:port`` and ``[v6addr]:port`` give the port; a plain name or address gives None.
    """
    return parse_address(target["properties"][target["targetProperty"]])


def parse_address(value: Any) -> tuple[str, int | None]:
    """See target_address; raises ValueError for a value that is no usable address."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"an address must be a non-empty string, got {describe(value)}")
    value = value.strip()
    if "://" in value:
        host = _split_host_port(urlsplit(value).netloc.rpartition("@")[2], value)[0]
        if not host:
            raise ValueError(f"the URL {value!r} has no host")
        return host, None
    return _split_host_port(value, value)


def _split_host_port(text: str, original: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket:
            raise ValueError(f"{original!r} has a '[' without a closing ']'")
        if not rest:
            return host, None
        if rest.startswith(":"):
            return host, _port(rest[1:], original)
        raise ValueError(f"unexpected {rest!r} after ']' in {original!r}")
    if text.count(":") == 1:  # more colons: a bare IPv6 address
        host, port = text.split(":")
        if not host:
            raise ValueError(f"{original!r} has no host before ':'")
        return host, _port(port, original)
    return text, None


def _port(text: str, original: str) -> int:
    if not _PORT_RE.fullmatch(text) or not 0 < int(text) < 65536:
        raise ValueError(f"invalid port {text!r} in {original!r}: it must be a number from 1 to 65535")
    return int(text)
