"""Turns a Notification into a MIME message and sends it with aiosmtplib."""
from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formataddr, formatdate

import aiosmtplib

from podium.plugin import Notification

from .config import EmailSettings


def mime_message(notification: Notification, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((notification.name, notification.to))
    message["Subject"] = notification.subject
    message["Date"] = formatdate(localtime=False)
    # Derived from the idempotency key: a redelivery after a crash carries the same Message-ID.
    digest = hashlib.sha256(notification.idempotency_key.encode()).hexdigest()[:32]
    message["Message-ID"] = f"<{digest}@{sender.rpartition('@')[2]}>"
    message["X-Podium-Notification"] = notification.kind
    message.set_content(notification.text)
    message.add_alternative(notification.html, subtype="html")
    for attachment in notification.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        subtype, _, params = subtype.partition(";")
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype.strip(),
                               filename=attachment.filename,
                               params=dict(p.strip().split("=", 1) for p in params.split(";") if "=" in p))
    return message


class EmailChannel:
    name = "email"

    def __init__(self, config: EmailSettings) -> None:
        self.config = config

    async def deliver(self, notification: Notification) -> None:
        config = self.config
        await aiosmtplib.send(
            mime_message(notification, config.from_address), hostname=config.host, port=config.port,
            username=config.username, password=config.password, start_tls=config.starttls, use_tls=config.tls,
            timeout=config.timeout, validate_certs=config.validate_certs,
            cert_bundle=config.ca_file)
