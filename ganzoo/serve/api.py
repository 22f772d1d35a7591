"""The sampling API: plain HTTP routes (FastAPI) beside the page, on the same server (:mod:`ganzoo.serve.server`).

- ``GET /api/v1/models``: every stored version with its card's metadata;
- ``GET /api/v1/models/{ref}``: one of them;
- ``POST /api/v1/models/{ref}/samples`` with ``{"n": 64, "seed": 0, "format": "png" | "npz" | "safetensors"}``:
  the bytes ``ganzoo sample REF --n N --seed S --out x.FORMAT`` writes, drawn through the dynamic batcher;
- ``GET /api/v1/stats``: what the batcher did;
- ``GET /api/v1/openapi.json``: the OpenAPI schema of these routes.

Inputs have the page's limits (:mod:`ganzoo.serve.validation`), written into the schema and checked again by the
service. Errors are JSON ``{"error": message, "hint": hint}``: 400 for a bad model reference (a path is never
one), 404 for an unknown model (the hint names close matches), 422 for a body outside the schema, 429 when the
batcher's queue is full (with ``Retry-After``), 401 without the login when the server has one (HTTP Basic, the
page's user and password). The samples route is asynchronous: a request waits for its batch without holding a
thread, and its bytes are encoded in a worker thread after the compute slot is free.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ganzoo.errors import GanzooError, StorageError, UnknownNameError
from ganzoo.serve import validation
from ganzoo.serve.batching import Busy
from ganzoo.serve.service import SamplingService
from ganzoo.store import IndexDamagedError, IntegrityError
from ganzoo.store.sampling import FORMATS, MEDIA_TYPES

PREFIX = "/api/v1"
OPENAPI_PATH = f"{PREFIX}/openapi.json"
RETRY_AFTER_S = 1
REALM = "ganzoo"
Format = Literal["png", "npz", "safetensors"]
assert tuple(Format.__args__) == FORMATS  # type: ignore[attr-defined]


def _whole(value: Any) -> Any:
    """What the page accepts as a whole number: an int (not a bool) or a float without fractional part (64.0,
    which JSON Schema counts as an integer too); strings and the rest are refused."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


class SampleRequest(BaseModel):
    """What to draw: ``n`` samples with noise seed ``seed``, returned as ``format``."""

    model_config = ConfigDict(extra="forbid")
    n: Annotated[int, Field(ge=1, le=validation.MAX_SAMPLES), BeforeValidator(_whole)] = Field(
        64, description=f"number of samples, 1 to {validation.MAX_SAMPLES}")
    seed: Annotated[int, Field(ge=0, le=validation.MAX_SEED), BeforeValidator(_whole)] = Field(
        0, description="noise seed: the same seed gives the same bytes (those `ganzoo sample` writes)")
    format: Format = Field("png", description="png: an image grid (a scatter for 2-D models); npz or "
                                              "safetensors: the raw float32 array [n, *shape]")


class ErrorBody(BaseModel):
    error: str = Field(description="what is wrong")
    hint: str | None = Field(None, description="how to fix it")


class ModelSummary(BaseModel):
    ref: str = Field(description="name:version, what the samples route takes (or just the name: newest)")
    label: str
    name: str
    version: int
    arch: str
    loss: str
    dataset: str
    data_kind: str | None
    latent_dim: int | None
    shape: list[int] | None
    headline: str | None = Field(description="the newest FID (or other result), None if never evaluated")
    created: str
    metrics: list[dict[str, Any]]
    card: dict[str, Any] | None = Field(description="the model card's metadata (its YAML front matter)")


class ModelList(BaseModel):
    models: list[ModelSummary]


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "a bad model reference (e.g. a file path)"},
    404: {"model": ErrorBody, "description": "no such model (the hint names close matches)"},
}
LOGIN: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody, "description": "the server asks for a login"}}
SAMPLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the samples: the bytes `ganzoo sample` writes for the same model, seed and n",
          "content": {media: {"schema": {"type": "string", "format": "binary"}}
                      for media in dict.fromkeys(MEDIA_TYPES.values())}},
    **ERRORS,
    422: {"model": ErrorBody, "description": "the body is not a valid sample request"},
    429: {"model": ErrorBody, "description": "the server is busy: try again after Retry-After seconds"},
}


def status_of(exc: GanzooError) -> int:
    if isinstance(exc, Busy):
        return 429
    if isinstance(exc, UnknownNameError):
        return 404
    if isinstance(exc, (IntegrityError, IndexDamagedError, StorageError)):
        return 500  # the store's fault, not the request's
    return 400


def error_response(exc: GanzooError) -> JSONResponse:
    status = status_of(exc)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 429 else None
    return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=status, headers=headers)


def login_check(auth: tuple[str, str] | None) -> list[Any]:
    """The dependencies that ask for ``auth`` (HTTP Basic) on every route; none when the server has no login."""
    if auth is None:
        return []
    basic = HTTPBasic(auto_error=False, realm=REALM, description="the login given to `ganzoo serve --auth`")
    user, password = (part.encode() for part in auth)

    def check(credentials: HTTPBasicCredentials | None = Depends(basic)) -> None:
        ok = credentials is not None and secrets.compare_digest(credentials.username.encode(), user) \
            & secrets.compare_digest(credentials.password.encode(), password)
        if not ok:
            raise StarletteHTTPException(401, "this server asks for a login",
                                         headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})

    return [Depends(check)]


def router(service: SamplingService, auth: tuple[str, str] | None = None) -> APIRouter:
    """The API's routes over ``service`` (its store, caches and batcher)."""
    api = APIRouter(prefix=PREFIX, dependencies=login_check(auth), responses=LOGIN if auth else None)

    def summary(record: Any) -> dict[str, Any]:
        return next(row for row in service.catalogue() if row["ref"] == record.ref)

    @api.get("/models", response_model=ModelList, summary="Every stored model version")
    def list_models() -> dict[str, Any]:
        """Every version in the store, oldest first, with its card's metadata."""
        return {"models": service.catalogue()}

    @api.get("/models/{ref:path}", response_model=ModelSummary, responses=ERRORS, summary="One model version")
    def model(ref: str) -> Any:
        """``ref`` is NAME (its newest version) or NAME:VERSION."""
        try:
            return summary(service.record(ref))
        except GanzooError as exc:
            return error_response(exc)

    @api.post("/models/{ref:path}/samples", response_class=Response, responses=SAMPLE_RESPONSES,
              summary="Draw samples")
    async def samples(ref: str, request: SampleRequest) -> Response:
        """Draw ``n`` samples of model ``ref`` with ``seed``; concurrent requests for one model share a forward
        pass, each getting exactly the bytes its seed gives alone."""
        try:
            record, future = await run_in_threadpool(service.submit, ref, request.n, request.seed)
            drawn = await asyncio.wrap_future(future)
            data = await run_in_threadpool(service.encode, record, drawn, request.seed, request.format)
        except GanzooError as exc:
            return error_response(exc)
        filename = f"{record.name}-{record.version}-seed{request.seed}-n{request.n}.{request.format}"
        return Response(data, media_type=MEDIA_TYPES[request.format],
                        headers={"Content-Disposition": f'inline; filename="{filename}"', "X-Ganzoo-Model": record.ref,
                                 "X-Ganzoo-Seed": str(request.seed), "X-Ganzoo-N": str(request.n)})

    @api.get("/stats", summary="What the batcher did")
    def stats() -> dict[str, Any]:
        """Requests accepted, refused (busy) and computed, forward passes, the largest batch, and the settings."""
        batcher = service.batcher
        return {**batcher.stats.as_dict(), "waiting": batcher.waiting,
                "settings": {"max_batch": batcher.max_batch, "max_wait_ms": batcher.max_wait_ms,
                             "queue_size": batcher.queue_size, "concurrency": batcher.concurrency}}

    return api


SAMPLE_HINT = (f'send JSON {{"n": 1 to {validation.MAX_SAMPLES}, "seed": 0 to {validation.MAX_SEED}, '
               '"format": "png", "npz" or "safetensors"}, every field optional')


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = getattr(exc, "errors", list)()
    problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors)
    about_body = any(tuple(e.get("loc", ()))[:1] == ("body",) for e in errors)
    return JSONResponse({"error": f"invalid request: {problems}", "hint": SAMPLE_HINT if about_body else None},
                        status_code=422)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse({"error": str(exc.detail), "hint": None}, status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


def install(app: FastAPI, service: SamplingService, auth: tuple[str, str] | None = None) -> None:
    """Add the API's routes, its OpenAPI schema (behind the same login) and its error format to ``app``."""
    app.include_router(router(service, auth))
    handlers: dict[Any, Callable[..., Any]] = {RequestValidationError: _validation_error,
                                              StarletteHTTPException: _http_error}
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)

    @app.get(OPENAPI_PATH, include_in_schema=False, dependencies=login_check(auth))
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())
