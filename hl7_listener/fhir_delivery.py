"""Delivery of a lookup result as a FHIR transaction Bundle to a FHIR endpoint.

It speaks the outbox's language: the reply is read as an acknowledgement, so retries, backoff
and dead-lettering work as for MLLP destinations. A 2xx is AA; 4xx is AE (the receiver refuses
this content; it is retried anyway, then dead-lettered, as a human must look at it); 5xx, 408,
429 and network faults are transient failures.
"""

from __future__ import annotations

import httpx

from hl7_listener.client import DeliveryFailed

__all__ = ["FhirDelivery"]

_TRANSIENT = frozenset({408, 429})


class FhirDelivery:
    """Posts to ``base_url`` through ``client``, which the composition root builds (timeouts,
    TLS, proxies, later credentials) and hands over: ``close`` closes it."""

    def __init__(self, base_url: str, *, client: httpx.AsyncClient) -> None:
        self._url = base_url.rstrip("/")
        self._client = client

    async def send(self, payload: bytes) -> bytes:
        try:
            response = await self._client.post(
                self._url,
                content=payload,
                headers={
                    "Content-Type": "application/fhir+json",
                    "Accept": "application/fhir+json",
                },
            )
        except httpx.TimeoutException as exc:
            raise DeliveryFailed(f"{self._url}: no answer in time", reason="timeout") from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{self._url}: {exc}", reason="refused") from exc
        status = response.status_code
        if 200 <= status < 300:
            return _ack("AA")
        if status >= 500 or status in _TRANSIENT:
            raise DeliveryFailed(f"{self._url} answered HTTP {status}", reason="closed")
        return _ack("AE")

    async def close(self) -> None:
        await self._client.aclose()


def _ack(code: str) -> bytes:
    return f"MSH|^~\\&|FHIR||||||ACK|0|P|2.5\rMSA|{code}|\r".encode()
