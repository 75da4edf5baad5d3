"""A real SMTP server for tests (aiosmtpd) that keeps every message it accepted."""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sink:
    """Collects accepted messages; ``refuse`` makes the server answer 451 (nothing accepted)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse = False
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 Bitte später erneut versuchen"
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                message = message_from_bytes(envelope.content)
                message["X-Envelope-To"] = rcpt
                self.messages.append(message)
        return "250 OK"

    def recipients(self) -> list[str]:
        with self._lock:
            return sorted(str(m["X-Envelope-To"]) for m in self.messages)


class SmtpSink:
    def __init__(self) -> None:
        self.sink = Sink()
        self.port = free_port()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
