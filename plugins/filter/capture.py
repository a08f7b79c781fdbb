# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of playbooks/capture_infra.yml: an infrastructure model from hosts and what they
reported, rendered as Nix, as YAML and as the inventory source that reads it back."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.disnix.deploy.plugins.plugin_utils import capture


def _plain(value: Any) -> Any:
    """Ansible's lazy and tagged containers as plain dicts, lists and scalars."""
    if isinstance(value, dict) or hasattr(value, "keys"):
        return {str(k): _plain(value[k]) for k in value.keys()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def capture_infrastructure(hosts: Any, reports: Any) -> dict:
    try:
        return capture.capture_model(_plain(hosts), _plain(reports))
    except capture.CaptureError as exc:
        raise AnsibleFilterError(f"disnix.deploy.capture_infrastructure: {exc}") from None


def _renderer(function):
    def render(data: Any, *args: Any, **kwargs: Any) -> str:
        try:
            return function(_plain(data), *[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})
        except capture.CaptureError as exc:
            raise AnsibleFilterError(f"disnix.deploy.{function.__name__}: {exc}") from None
    return render


class FilterModule:
    """disnix.deploy filters."""

    def filters(self):
        return {
            "capture_infrastructure": capture_infrastructure,
            "infrastructure_nix": _renderer(capture.render_nix),
            "infrastructure_yaml": _renderer(capture.render_yaml),
            "infrastructure_inventory": _renderer(capture.render_inventory),
        }
