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
from serve_support import make_store

from ganzoo.serve.server import build_server, serving

pytestmark = [
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
CHECKS = [getattr(checks, name) for name in ("not_a_server_error", "status_code_conformance",
                                             "content_type_conformance", "response_schema_conformance")]
EXAMPLES = 25


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio-cache")))
        app = build_server(make_store(tmp_path_factory.mktemp("fuzz-store")))
        with serving(app) as url:
            yield url.rstrip("/"), app.state.ganzoo_service


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
