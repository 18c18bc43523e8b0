"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives; optionally STARTTLS and AUTH."""
from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class ReceivedMail:
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: str | None

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def attachment(self, filename: str) -> bytes | None:
        for part in self.message.iter_attachments():
            if part.get_filename() == filename:
                return part.get_payload(decode=True)
        return None


class MailServer:
    def __init__(self, port: int, tls_context=None, credentials: tuple[str, str] | None = None) -> None:
        self.port = port
        self.mails: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self._tls_context = tls_context
        self._credentials = credentials
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        login = session.auth_data.decode() if session.authenticated else None
        with self._lock:
            self.mails.append(ReceivedMail(list(envelope.rcpt_tos), message, bool(session.ssl), login))
        return "250 Message accepted for delivery"

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and self._credentials == (auth_data.login.decode(),
                                                                           auth_data.password.decode()):
            return AuthResult(success=True, auth_data=auth_data.login)
        return AuthResult(success=False, handled=False)

    def start(self) -> "MailServer":
        params = {}
        if self._tls_context is not None:
            params.update(tls_context=self._tls_context, require_starttls=True)
        if self._credentials is not None:
            params.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=True)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **params)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self.mails)
