# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small WS-Management (WinRM) endpoint on 127.0.0.1 for tests, standard library only.

It speaks enough of the protocol for pywinrm and Ansible's winrm connection plugin (HTTP,
Basic authentication, no message encryption): Create and Delete of a shell, Command,
Send (stdin), Receive (output and exit code) and Signal. It does not run anything itself:
every command goes to a handler, a function that receives the command line (PowerShell's
-EncodedCommand decoded to the script text) and returns (stdout, stderr, exit code).
The tests give it a small simulated Windows machine as the handler.

    with WinRMEndpoint(handler, user="Administrator", password="pw") as endpoint:
        ... ansible_port=endpoint.port ansible_winrm_scheme=http ansible_winrm_transport=basic
"""

from __future__ import annotations

import base64
import http.server
import re
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from xml.sax.saxutils import escape

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
}
ACTION_BASE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"

Handler = Callable[[str], "tuple[str, str, int]"]


def decode_command(command: str, arguments: str) -> str:
    """The script of `PowerShell ... -EncodedCommand <base64 UTF-16LE>`, else the command line."""
    match = re.search(r"-EncodedCommand\s+(\S+)", arguments, re.I)
    if match and command.lower().startswith("powershell"):
        return base64.b64decode(match.group(1)).decode("utf-16-le")
    return f"{command} {arguments}".strip()


def _envelope(action: str, relates_to: str, body: str, shell_id: str | None = None) -> bytes:
    selector = ""
    if shell_id:
        selector = f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:w="{NS["w"]}" xmlns:rsp="{NS["rsp"]}">'
        f"<s:Header><a:Action>{escape(action)}</a:Action><a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>{selector}</s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


class WinRMEndpoint:
    """Serve WS-Management on 127.0.0.1:<port> (0 = any free port) in a thread."""

    def __init__(self, handler: Handler, user: str = "Administrator", password: str = "secret",
                 port: int = 0) -> None:
        self.handler = handler
        self.credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.scripts: list[str] = []        # every command's script, in order
        self.failed_logins = 0
        self._shells: set[str] = set()
        self._commands: dict[str, dict] = {}
        self._lock = threading.Lock()
        endpoint = self

        class RequestHandler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(length)
                if self.headers.get("Authorization", "") != f"Basic {endpoint.credentials}":
                    endpoint.failed_logins += 1
                    self._reply(401, b"", {"WWW-Authenticate": 'Basic realm="WSMAN"'})
                    return
                try:
                    status, body = endpoint.dispatch(data)
                except Exception as exc:  # a broken request: a SOAP fault, not a dead server
                    status, body = 500, _envelope(TRANSFER + "Fault", "", f"<s:Fault><s:Reason><s:Text>"
                                                  f"{escape(str(exc))}</s:Text></s:Reason></s:Fault>")
                self._reply(status, body, {"Content-Type": "application/soap+xml;charset=UTF-8"})

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), RequestHandler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ------------------------------------------------------------------ protocol
    def dispatch(self, data: bytes) -> tuple[int, bytes]:
        root = ET.fromstring(data)
        header = root.find("s:Header", NS)
        body = root.find("s:Body", NS)
        action = header.findtext("a:Action", "", NS).strip()
        message_id = header.findtext("a:MessageID", "", NS).strip()
        shell_id = None
        for selector in header.iter(f"{{{NS['w']}}}Selector"):
            if selector.get("Name") == "ShellId":
                shell_id = (selector.text or "").strip()

        if action == TRANSFER + "Create":
            shell_id = str(uuid.uuid4()).upper()
            with self._lock:
                self._shells.add(shell_id)
            created = (f'<w:ResourceCreated><a:Address>http://127.0.0.1:{self.port}/wsman</a:Address>'
                       f'<a:ReferenceParameters><w:SelectorSet><w:Selector Name="ShellId">{shell_id}'
                       f'</w:Selector></w:SelectorSet></a:ReferenceParameters></w:ResourceCreated>'
                       f'<rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId></rsp:Shell>')
            return 200, _envelope(TRANSFER + "CreateResponse", message_id, created)

        if shell_id not in self._shells:
            raise ValueError(f"unknown shell {shell_id}")

        if action == TRANSFER + "Delete":
            with self._lock:
                self._shells.discard(shell_id)
            return 200, _envelope(TRANSFER + "DeleteResponse", message_id, "")

        if action == ACTION_BASE + "Command":
            line = body.find("rsp:CommandLine", NS)
            script = decode_command(line.findtext("rsp:Command", "", NS).strip(),
                                    line.findtext("rsp:Arguments", "", NS).strip())
            command_id = str(uuid.uuid4()).upper()
            with self._lock:
                self.scripts.append(script)
                self._commands[command_id] = {"script": script, "stdin": b"", "result": None}
            return 200, _envelope(ACTION_BASE + "CommandResponse", message_id,
                                  f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId>"
                                  f"</rsp:CommandResponse>")

        if action == ACTION_BASE + "Send":
            stream = body.find("rsp:Send/rsp:Stream", NS)
            command = self._commands[stream.get("CommandId")]
            command["stdin"] += base64.b64decode(stream.text or "")
            return 200, _envelope(ACTION_BASE + "SendResponse", message_id, "<rsp:SendResponse/>")

        if action == ACTION_BASE + "Receive":
            command_id = body.find("rsp:Receive/rsp:DesiredStream", NS).get("CommandId")
            command = self._commands[command_id]
            if command["result"] is None:
                command["result"] = self.handler(command["script"])
            stdout, stderr, rc = command["result"]
            streams = "".join(
                f'<rsp:Stream Name="{name}" CommandId="{command_id}">'
                f'{base64.b64encode(text.encode()).decode()}</rsp:Stream>'
                f'<rsp:Stream Name="{name}" CommandId="{command_id}" End="true"></rsp:Stream>'
                for name, text in (("stdout", stdout), ("stderr", stderr)))
            state = (f'<rsp:CommandState CommandId="{command_id}" State="{DONE}">'
                     f"<rsp:ExitCode>{int(rc)}</rsp:ExitCode></rsp:CommandState>")
            return 200, _envelope(ACTION_BASE + "ReceiveResponse", message_id,
                                  f"<rsp:ReceiveResponse>{streams}{state}</rsp:ReceiveResponse>")

        if action == ACTION_BASE + "Signal":
            command_id = body.find("rsp:Signal", NS).get("CommandId")
            with self._lock:
                self._commands.pop(command_id, None)
            return 200, _envelope(ACTION_BASE + "SignalResponse", message_id, "<rsp:SignalResponse/>")

        raise ValueError(f"unsupported action {action}")

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> WinRMEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WinRMEndpoint:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
