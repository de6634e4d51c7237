"""Security headers on every answer, and the bearer scheme as the OpenAPI states it.

Every response (the dashboard, ``/docs``, the API, errors included) carries a Content
Security Policy that lets a page load scripts, styles, images and data from this
service alone (no inline script, no inline style element or attribute, no CDN), forbids
framing, and turns off MIME sniffing and the Referer header (docs/store.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from jointsat.service.deps import BEARER, OPTIONAL_BEARER
from jointsat.service.middleware import HttpMiddleware

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # data: for the icons in Swagger UI's and Leaflet's CSS
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.encode("latin-1"), value.encode("latin-1"))
    for name, value in (
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    )
)


class SecurityHeaders(HttpMiddleware):
    """ASGI middleware: add the security headers to every HTTP response it passes on."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((n, v) for n, v in SECURITY_HEADERS if n.lower() not in present),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def _state_optional_auth(app: FastAPI) -> None:
    """Let operations the public may call say so: ``security: [{"bearer": []}, {}]``.

    Their dependency names the scheme ``bearer-optional`` (deps.py): an operation that
    also needs a token keeps ``bearer`` alone; one that takes a token or none gets both.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()  # FastAPI keeps it in app.openapi_schema
        optional = OPTIONAL_BEARER.scheme_name
        schema.get("components", {}).get("securitySchemes", {}).pop(optional, None)
        for operations in schema["paths"].values():
            for operation in operations.values():
                names = {name for each in operation.get("security", []) for name in each}
                if optional in names:
                    required = BEARER.scheme_name in names
                    operation["security"] = [{BEARER.scheme_name: []}, *([] if required else [{}])]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    """Add the headers to every answer (outermost: errors and refusals get them too)."""
    _state_optional_auth(app)
    app.add_middleware(SecurityHeaders)
