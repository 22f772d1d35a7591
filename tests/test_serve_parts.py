"""The sampling page's parts that need no server and no model: input checks, the LRU cache, the distances example,
the latent path, the `ganzoo serve` option checks, and that Gradio is never imported by `import ganzoo`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time

import pytest
import torch

from ganzoo.errors import ConfigError, GanzooError
from ganzoo.serve import distances, validation
from ganzoo.serve.cache import LRUCache
from ganzoo.serve.service import _slerp


def ganzoo(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GANZOO_LOAD_PLUGINS": ""}
    return subprocess.run([sys.executable, "-m", "ganzoo.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


# --- validation -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [(1, 1), (256, 256), (64.0, 64)])
def test_sample_count_accepts_whole_numbers_in_range(value, expected):
    assert validation.sample_count(value) == expected and type(validation.sample_count(value)) is int


@pytest.mark.parametrize("value", [0, 257, 10_000, -3, 2.5, "64", None, True, float("nan"), float("inf"), [4]])
def test_sample_count_refuses_anything_else_naming_the_range(value):
    with pytest.raises(GanzooError, match=r"n must be a whole number from 1 to 256, got "):
        validation.sample_count(value)


@pytest.mark.parametrize("value", [-1, 2**32, "7", 1.5])
def test_seed_range_and_type(value):
    with pytest.raises(GanzooError, match=r"seed must be a whole number from 0 to 4294967295"):
        validation.seed(value)


@pytest.mark.parametrize("value", [1, 33, 8.5])
def test_frame_count_range(value):
    with pytest.raises(GanzooError, match=r"frames must be a whole number from 2 to 32"):
        validation.frame_count(value)


@pytest.mark.parametrize("value", [1.5, -1.01, "0.5", None, float("nan")])
def test_theta_range(value):
    with pytest.raises(GanzooError, match=r"theta must be a number from -1 to 1"):
        validation.real_number(value, "theta", -1.0, 1.0)


@pytest.mark.parametrize("path", ["/etc/passwd", "../toy", "runs/x", "~/model", "C:\\models\\g", ".hidden",
                                  "generator.safetensors", "config.json"])
def test_model_ref_refuses_paths_before_the_store_is_asked(path):
    with pytest.raises(GanzooError, match="looks like a file path; this page loads models from the store only"):
        validation.model_ref(path)


@pytest.mark.parametrize(("value", "words"), [
    (None, "no model chosen"), ("  ", "no model chosen"), (5, "must be given by name, got int"),
    (["toy"], "must be given by name"), ("Toy!", "invalid model name"), ("toy:0", "invalid version"),
    ("toy:x", "invalid version"), ("a" * 121, "at most 120"),
])
def test_model_ref_refuses_malformed_references(value, words):
    with pytest.raises(GanzooError, match=words):
        validation.model_ref(value)


def test_model_ref_accepts_names_and_versions():
    assert validation.model_ref("toy") == "toy"
    assert validation.model_ref(" dcgan-wgan-gp-digits:12 ") == "dcgan-wgan-gp-digits:12"
    assert validation.model_ref("toy:latest") == "toy:latest"


def test_auth_pair_and_loopback():
    assert validation.auth_pair("ann:pa:ss") == ("ann", "pa:ss")
    for bad in ("ann", "ann:", ":pass", ""):
        with pytest.raises(GanzooError, match="USER:PASS"):
            validation.auth_pair(bad)
    assert validation.is_loopback("127.0.0.1") and validation.is_loopback("::1") and validation.is_loopback(
        "localhost")
    assert not validation.is_loopback("0.0.0.0") and not validation.is_loopback("192.168.1.4")
    with pytest.raises(GanzooError, match="invalid host"):
        validation.host("a b")


# --- cache ----------------------------------------------------------------------------------------------------

def test_lru_cache_loads_once_and_evicts_the_least_recently_used():
    calls: list[str] = []
    cache = LRUCache(lambda key: calls.append(key) or key.upper(), maxsize=2)
    assert [cache.get("a"), cache.get("a"), cache.get("b")] == ["A", "A", "B"]
    assert calls == ["a", "b"] and (cache.loads, cache.hits) == (2, 1)
    cache.get("a")  # a is now the most recent, so c evicts b
    cache.get("c")
    assert cache.keys() == ["a", "c"] and cache.evictions == 1 and "b" not in cache
    cache.get("b")
    assert calls == ["a", "b", "c", "b"] and len(cache) == 2


def test_lru_cache_loads_a_key_once_under_concurrent_requests():
    calls: list[str] = []

    def slow(key: str) -> str:
        calls.append(key)
        time.sleep(0.2)
        return key

    cache = LRUCache(slow, maxsize=4)
    threads = [threading.Thread(target=cache.get, args=("g",)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == ["g"] and cache.loads == 1 and cache.hits == 5


@pytest.mark.parametrize("size", [0, -1, 1.5, True])
def test_lru_cache_size_must_be_positive(size):
    with pytest.raises(ConfigError, match="cache size must be a whole number >= 1"):
        LRUCache(str, maxsize=size)


# --- distances ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("theta", [-1.0, -0.25, 0.3, 1.0])
def test_closed_form_of_the_parallel_lines(theta):
    values = distances.closed_form(theta)
    assert values["W"] == abs(theta)
    assert values["JS"] == pytest.approx(math.log(2)) and values["TV"] == 1.0 and math.isinf(values["KL"])
    grads = distances.gradients(theta)
    assert grads["W"] == math.copysign(1.0, theta) and grads["JS"] == 0.0 and grads["TV"] == 0.0


def test_distances_are_zero_when_the_lines_coincide():
    assert distances.closed_form(0.0) == {"W": 0.0, "JS": 0.0, "KL": 0.0, "TV": 0.0}


@pytest.mark.parametrize("theta", [0.0, 0.25, -0.5, 1.0])
def test_exact_w1_of_samples_matches_abs_theta(theta):
    # 400 + 400 independent samples: the vertical mismatch adds O(1/sqrt(n)) at theta = 0 and less elsewhere
    assert distances.empirical_w1(theta, n=400, seed=1) == pytest.approx(abs(theta), abs=0.05)


def test_distances_table_is_strict_json_and_the_figure_has_four_panels():
    table = distances.table(0.4, 0.41)
    json.dumps(table, allow_nan=False)
    assert table["distances"]["KL"] == "inf" and table["gradients"]["KL"] is None
    fig = distances.figure(0.4, 0.41)
    assert len(fig.axes) == 4 and [a.get_title().split(":")[0] for a in fig.axes] == ["W", "JS", "KL", "TV"]


# --- latent path ----------------------------------------------------------------------------------------------

def test_slerp_starts_and_ends_at_the_seeds_and_keeps_the_norm_between_orthogonal_latents():
    a, b = torch.tensor([[3.0, 0.0], [1.0, 2.0]]), torch.tensor([[0.0, 3.0], [1.0, 2.0]])
    assert torch.allclose(_slerp(a, b, 0.0), a) and torch.allclose(_slerp(a, b, 1.0), b)
    middle = _slerp(a, b, 0.5)
    assert middle[0].norm().item() == pytest.approx(3.0)  # a straight line would dip to 2.12
    assert torch.allclose(middle[1], a[1])  # identical rows: the straight-line fallback


# --- command line ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "words"), [
    (["--auth", "ann"], "--auth must look like USER:PASS"),
    (["--port", "0"], "--port must be a whole number from 1 to 65535, got 0"),
    (["--host", " "], "invalid host"),
    (["--cache-size", "0"], "--cache-size must be a whole number from 1 to 256"),
    (["--concurrency", "0"], "--concurrency must be a whole number from 1 to 64"),
])
def test_serve_refuses_bad_options_with_a_message(args, words):
    result = ganzoo("serve", *args)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr


def test_gradio_is_not_imported_by_ganzoo_or_its_help():
    code = ("import sys, ganzoo, ganzoo.cli, ganzoo.serve, ganzoo.cli.serve, ganzoo.serve.validation; "
            "print('gradio' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120).stdout.strip() == "False"
    help_text = ganzoo("--help").stdout
    assert "serve" in help_text
