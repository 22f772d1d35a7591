"""The sampling API's routes (ganzoo/serve/api.py) over real stored models, on a FastAPI app of their own.

Bytes are compared with what `ganzoo sample` writes for the same model, seed and n. The routes on the real server,
beside the page, are tested in tests/test_server.py.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from serve_support import SAMPLES, store_fixture
from typer.testing import CliRunner

from ganzoo.cli import app as cli
from ganzoo.serve import api
from ganzoo.serve.service import SamplingService

SAMPLES = "/" + SAMPLES  # the test client's paths are absolute
store = store_fixture("api-store")


@pytest.fixture(scope="module")
def service(store):
    service = SamplingService(store)
    yield service
    service.close()


def client_over(service: SamplingService, auth: tuple[str, str] | None = None) -> TestClient:
    app = FastAPI(openapi_url=None)
    api.install(app, service, auth)
    return TestClient(app)


@pytest.fixture(scope="module")
def client(service):
    with client_over(service) as client:
        yield client


def sample_command(store, tmp_path: Path, ref: str, n: int, seed: int, fmt: str) -> bytes:
    """What `ganzoo sample REF --n N --seed S --out x.FMT` writes, run as a user runs it."""
    out = tmp_path / f"{ref.replace(':', '-')}-{n}-{seed}.{fmt}"
    result = CliRunner().invoke(cli, ["sample", ref, "--n", str(n), "--seed", str(seed), "--out", str(out)],
                                env={"GANZOO_HOME": str(store.home)})
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def test_the_list_has_every_model_with_its_card_metadata(client):
    response = client.get("/api/v1/models")
    assert response.status_code == 200
    rows = {row["ref"]: row for row in response.json()["models"]}
    assert set(rows) == {"digits:1", "toy:1", "toy-bare:1"}
    digits = rows["digits:1"]
    assert (digits["arch"], digits["loss"], digits["dataset"], digits["data_kind"]) == \
        ("dcgan", "wgan-gp", "digits", "images")
    assert digits["shape"] == [1, 28, 28] and digits["label"].startswith("digits:1: dcgan + wgan-gp on digits")
    assert digits["card"]["library_name"] == "ganzoo" and "dcgan" in digits["card"]["tags"]
    assert digits["card"]["pipeline_tag"] == "unconditional-image-generation"
    assert rows["toy:1"]["latent_dim"] == 2 and rows["toy:1"]["headline"] is None


def test_one_model_by_name_or_version(client):
    assert client.get("/api/v1/models/digits").json()["ref"] == "digits:1"
    assert client.get("/api/v1/models/toy:1").json()["shape"] == [2]


@pytest.mark.parametrize(("ref", "n", "seed", "fmt", "media"), [
    ("digits", 64, 0, "png", "image/png"), ("digits:1", 10, 7, "npz", "application/x-npz"),
    ("digits", 3, 4294967295, "safetensors", "application/octet-stream"), ("toy", 100, 5, "png", "image/png"),
    ("toy:1", 256, 1, "npz", "application/x-npz"),
])
def test_samples_are_the_bytes_ganzoo_sample_writes(client, store, tmp_path, ref, n, seed, fmt, media):
    response = client.post(SAMPLES.format(ref), json={"n": n, "seed": seed, "format": fmt})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media
    assert response.headers["x-ganzoo-model"] == f"{ref.split(':')[0]}:1"
    assert response.headers["x-ganzoo-seed"] == str(seed) and response.headers["x-ganzoo-n"] == str(n)
    assert response.content == sample_command(store, tmp_path, ref, n, seed, fmt)


def test_defaults_are_64_samples_with_seed_0_as_png(client, store, tmp_path):
    response = client.post(SAMPLES.format("digits"), json={})
    assert response.content == sample_command(store, tmp_path, "digits", 64, 0, "png")
    assert 'filename="digits-1-seed0-n64.png"' in response.headers["content-disposition"]


@pytest.mark.parametrize(("ref", "status", "words"), [
    ("nope", 404, "no model called 'nope' in the store"),
    ("toi", 404, "did you mean 'toy'"),
    ("digits:9", 404, "model 'digits' has no version 9"),
    ("Toy!", 400, "invalid model name"),
    ("~root", 400, "looks like a file path"),
    ("%2E%2E", 400, "looks like a file path"),  # ".." itself: clients drop dot segments from URLs
    ("etc/passwd", 400, "looks like a file path"),
    ("%2Fetc%2Fpasswd", 400, "looks like a file path"),
    ("..%2Fhome%2Fmodels%2Ftoy%2F1", 400, "looks like a file path"),
    ("generator.safetensors", 400, "looks like a file path"),
    ("x" * 121, 400, "at most 120 are allowed"),
])
def test_bad_model_references(client, service, ref, status, words):
    loads = service.generators.loads
    for response in (client.post(SAMPLES.format(ref), json={"n": 4}), client.get(f"/api/v1/models/{ref}")):
        assert response.status_code == status, response.text
        body = response.json()
        assert words in f"{body['error']} (hint: {body['hint']})"
    assert service.generators.loads == loads  # refused before anything was loaded


@pytest.mark.parametrize(("body", "words"), [
    ({"n": 0}, "body.n: Input should be greater than or equal to 1"),
    ({"n": 257}, "body.n: Input should be less than or equal to 256"),
    ({"n": 2.5}, "body.n: Value error, must be a whole number"),
    ({"n": "64"}, "body.n: Value error, must be a whole number"),
    ({"n": True}, "body.n: Value error, must be a whole number"),
    ({"n": None}, "body.n: Value error, must be a whole number"),
    ({"seed": -1}, "body.seed: Input should be greater than or equal to 0"),
    ({"seed": 2**32}, "body.seed: Input should be less than or equal to 4294967295"),
    ({"format": "gif"}, "body.format: Input should be 'png', 'npz' or 'safetensors'"),
    ({"colour": "red"}, "body.colour: Extra inputs are not permitted"),
    ([64], "body: Input should be a valid dictionary"),
])
def test_bodies_outside_the_limits_are_refused(client, body, words):
    response = client.post(SAMPLES.format("digits"), json=body)
    assert response.status_code == 422
    assert words in response.json()["error"] and "seed" in response.json()["hint"]


def test_whole_numbers_may_arrive_as_floats_like_on_the_page(client):
    as_floats = client.post(SAMPLES.format("digits"), json={"n": 8.0, "seed": 3.0, "format": "npz"})
    assert as_floats.status_code == 200
    assert as_floats.content == client.post(SAMPLES.format("digits"), json={"n": 8, "seed": 3, "format": "npz"}).content


def test_a_body_that_is_not_json_is_refused(client):
    response = client.post(SAMPLES.format("digits"), content=b"n=64", headers={"content-type": "text/plain"})
    assert response.status_code == 422 and response.json()["error"].startswith("invalid request")


def test_the_schema_documents_routes_limits_and_errors(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/models", "/api/v1/models/{ref}", "/api/v1/models/{ref}/samples", "/api/v1/stats"} \
        <= set(schema["paths"])
    post = schema["paths"]["/api/v1/models/{ref}/samples"]["post"]
    assert {"200", "400", "404", "422", "429"} <= set(post["responses"])
    assert set(post["responses"]["200"]["content"]) == {"image/png", "application/x-npz", "application/octet-stream"}
    fields = schema["components"]["schemas"]["SampleRequest"]["properties"]
    assert (fields["n"]["minimum"], fields["n"]["maximum"]) == (1, 256)
    assert (fields["seed"]["minimum"], fields["seed"]["maximum"]) == (0, 4294967295)
    assert fields["format"]["enum"] == ["png", "npz", "safetensors"]


def test_stats_count_what_the_batcher_did(client):
    before = client.get("/api/v1/stats").json()
    client.post(SAMPLES.format("digits"), json={"n": 4})
    after = client.get("/api/v1/stats").json()
    assert after["computed"] == before["computed"] + 1 and after["batches"] == before["batches"] + 1
    assert after["settings"] == {"max_batch": 256, "max_wait_ms": 0.0, "queue_size": 64, "concurrency": 2}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_a_login_guards_every_route_and_the_schema(service):
    with client_over(service, auth=("ann", "s3cret")) as client:
        routes = [("get", "/api/v1/models"), ("get", "/api/v1/models/digits"), ("get", "/api/v1/stats"),
                  ("get", "/api/v1/openapi.json"), ("post", SAMPLES.format("digits"))]
        for method, path in routes:
            for headers in ({}, basic("ann", "wrong"), basic("bob", "s3cret")):
                response = client.request(method, path, headers=headers, json={"n": 1})
                assert response.status_code == 401, (path, headers)
                assert response.headers["www-authenticate"] == 'Basic realm="ganzoo"'
                assert response.json()["error"] == "this server asks for a login"
            assert client.request(method, path, headers=basic("ann", "s3cret"), json={"n": 1}).status_code == 200
        schema = client.get("/api/v1/openapi.json", headers=basic("ann", "s3cret")).json()
        assert "401" in schema["paths"]["/api/v1/models"]["get"]["responses"]


def test_every_route_is_documented(client):
    text = (Path(__file__).resolve().parents[1] / "docs" / "serving.md").read_text(encoding="utf-8")
    schema = client.get("/api/v1/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method in operations:
            assert f"`{method.upper()} {path}`" in text, f"docs/serving.md does not document {method.upper()} {path}"
    assert "`GET /api/v1/openapi.json`" in text
