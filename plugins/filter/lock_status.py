# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter disnix.deploy.lock_status: is a target lock held by a live deployment, or stale?"""

from __future__ import annotations

import os
import socket

from ansible_collections.disnix.deploy.plugins.plugin_utils.lock_holder import lock_status


class FilterModule:
    """disnix.deploy filters."""

    def filters(self):
        return {"lock_status": lambda holder: lock_status(holder, socket.gethostname(), os.path.isdir)}
