# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The target's own record of every activate/deactivate/lock/unlock attempt:
``<log_dir>/activations.log``, one JSON object per line (``via``: builtin or dysnomia, who ran it).

Runs on targets: Python 3.8+, standard library only.
"""

from __future__ import annotations

import os
import threading
import time

from ansible_collections.disnix.deploy.plugins.module_utils.activation_types import Operation, OperationResult, handled_by
from ansible_collections.disnix.deploy.plugins.module_utils.target_common import TargetError, append_json_line

LOG_NAME = "activations.log"
MAX_MSG = 2000


class ActivationLog:
    """Appends entries; thread-safe, so file order is time order even for parallel steps."""

    def __init__(self, log_dir: str, run_id: str) -> None:
        self.path = os.path.join(log_dir, LOG_NAME)
        self.run_id = run_id
        self._lock = threading.Lock()
        try:
            os.makedirs(log_dir, exist_ok=True)
        except OSError as exc:
            raise TargetError("cannot create the activation log directory %s: %s (set log_dir)" % (log_dir, exc.strerror or exc))

    def record(self, operation: Operation, result: OperationResult) -> None:
        msg = result.output.strip()
        if len(msg) > MAX_MSG:
            msg = msg[-MAX_MSG:]
        with self._lock:
            append_json_line(self.path, {
                "time_ns": time.time_ns(),
                "run_id": self.run_id,
                "op": operation.op,
                "service": operation.service,
                "key": operation.key,
                "pkg": operation.pkg,
                "type": operation.type,
                "container": operation.container_name,
                "via": handled_by(operation),
                "ok": result.ok,
                "msg": msg,
            })
