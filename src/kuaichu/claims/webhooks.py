"""Pushing claims to insurers: Standard Webhooks (HMAC-SHA256 over id, timestamp and body).

Insurers verify with any Standard Webhooks library: the `webhook-id` header doubles as the
idempotency key, and the signed `webhook-timestamp` bounds replays to a short window.
"""

import json
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from kuaichu.auth.models import Insurer
from kuaichu.clock import Clock
from kuaichu.db import Database


class WebhookError(Exception):
    """The insurer could not be reached or refused; the text carries no personal data."""


def signed_headers(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
        "idempotency-key": message_id,
    }


class InsurerWebhookGateway:
    def __init__(self, database: Database, clock: Clock, timeout_seconds: float = 10.0) -> None:
        self._database = database
        self._clock = clock
        self._timeout = timeout_seconds

    async def send(self, *, insurer_code: str, body: dict[str, Any], idempotency_key: str) -> None:
        target = await self._database.read(
            lambda s: s.execute(
                select(Insurer.webhook_url, Insurer.webhook_secret).where(Insurer.code == insurer_code)
            ).first()
        )
        if target is None or not target.webhook_url or not target.webhook_secret:
            raise WebhookError(f"insurer {insurer_code} has no webhook configured")
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        headers = signed_headers(target.webhook_secret, idempotency_key, self._clock.now(), payload)
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(target.webhook_url, content=payload.encode(), headers=headers)
        except httpx.HTTPError as error:
            raise WebhookError(f"insurer {insurer_code} unreachable: {type(error).__name__}") from None
        if not response.is_success:
            raise WebhookError(f"insurer {insurer_code} answered HTTP {response.status_code}")
