# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter disnix.deploy.query_plan: a JMESPath query over a plan or a deployed manifest."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.disnix.deploy.plugins.plugin_utils import plan_json

try:
    import jmespath
    import jmespath.exceptions
except ImportError:  # reported when the filter is used
    jmespath = None


def query_plan(data: Any, expression: str) -> Any:
    if jmespath is None:
        raise AnsibleFilterError("disnix.deploy.query_plan needs the Python package jmespath on the controller "
                                 "(pip install jmespath)")
    if not isinstance(data, dict):
        raise AnsibleFilterError(f"disnix.deploy.query_plan: expected a plan or a manifest (a dict), got {type(data).__name__}")
    if not isinstance(expression, str):
        raise AnsibleFilterError("disnix.deploy.query_plan: the query must be a string")
    document = plan_json.as_document(data)
    try:
        return jmespath.search(expression, document)
    except jmespath.exceptions.JMESPathError as exc:
        raise AnsibleFilterError(f"disnix.deploy.query_plan: bad query {expression!r}: {exc}") from None


class FilterModule:
    """disnix.deploy filters."""

    def filters(self):
        return {"query_plan": query_plan}
