"""The floor for `$submit` throughput: the least a FHIR endpoint can do with the same request.

It reads the body, parses it and validates it as a CoverageEligibilityRequest with the
``fhir.resources`` R4B models, then returns a canned CoverageEligibilityResponse: no regime call,
no storage. The benchmark serves it like the gateway (uvicorn, one worker, default loop and HTTP
parser): ``python -m uvicorn benchmarks.floor_app:app``.
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest

__all__ = ["app"]

_CANNED = json.dumps(
    {
        "resourceType": "CoverageEligibilityResponse",
        "id": "floor",
        "status": "active",
        "purpose": ["validation"],
        "patient": {"reference": "Patient/floor"},
        "created": "2026-11-24T10:00:00+01:00",
        "request": {"reference": "CoverageEligibilityRequest/floor"},
        "outcome": "complete",
        "disposition": "Rights found.",
        "insurer": {"display": "CDR"},
        "insurance": [{"coverage": {"reference": "Coverage/floor"}, "inforce": True}],
    },
    separators=(",", ":"),
).encode()

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@app.post("/fhir/CoverageEligibilityRequest/$submit")
async def submit(request: Request) -> Response:
    CoverageEligibilityRequest.model_validate(json.loads(await request.body()))
    return Response(_CANNED, media_type="application/fhir+json; charset=utf-8")
