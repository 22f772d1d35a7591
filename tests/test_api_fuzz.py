"""A property-based fuzz of the sampling API's OpenAPI schema (schemathesis) against a live server on 127.0.0.1.

Requests that fit the schema and requests that break it, for every route, with model references made up and with
a real model: no answer may be a server error (5xx), every answer must be one the schema documents (status,
content type, body), and with a real model every request that fits the schema is served (200). Bounded: a few
dozen examples per strategy, no example database, about half a minute.
"""

from __future__ import annotations

import collections

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode, checks
from serve_support import GRADIO_WARNINGS, gradio_cache_fixture, live_server, store_fixture

from ganzoo.serve.server import build_server
from ganzoo.serve.service import SamplingService

pytestmark = GRADIO_WARNINGS
gradio_cache = gradio_cache_fixture()
store = store_fixture("fuzz-store")
CHECKS = [getattr(checks, name) for name in ("not_a_server_error", "status_code_conformance",
                                             "content_type_conformance", "response_schema_conformance")]
EXAMPLES = 25


@pytest.fixture(scope="module")
def live(store):
    service = SamplingService(store)
    with live_server(build_server(service=service), service) as live:
        yield live["url"].rstrip("/"), service


@pytest.mark.parametrize(("mode", "ref"), [(GenerationMode.POSITIVE, None), (GenerationMode.NEGATIVE, None),
                                           (GenerationMode.POSITIVE, "digits:1"), (GenerationMode.NEGATIVE, "toy")])
def test_no_request_gets_a_server_error(live, mode, ref):
    url, service = live
    schema = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json")
    strategy = schema.as_strategy(generation_mode=mode, path_parameters={"ref": ref} if ref else None)
    seen: list[int] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def fuzz(case) -> None:
        response = case.call_and_validate(base_url=url, checks=CHECKS, timeout=60)
        seen.append(response.status_code)

    fuzz()
    assert seen and max(seen) < 500, collections.Counter(seen)
    if ref and mode is GenerationMode.POSITIVE:  # every request the schema allows is served, with real samples
        assert set(seen) == {200}, collections.Counter(seen)
        assert service.batcher.stats.computed > 0
