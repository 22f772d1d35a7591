"""The sampling page: Gradio wiring of :class:`~ganzoo.serve.service.SamplingService` (served, beside the API, by
:mod:`ganzoo.serve.server`).

Every action is one Gradio event with a documented ``api_name`` (see docs/serving.md), so the page and
``gradio_client`` call exactly the same code. Events run with ``preprocess=False``: Gradio's own input conversion
is skipped and the raw values reach :mod:`ganzoo.serve.validation`, which checks type and range and answers with a
clear message. Generate draws through the service's dynamic batcher (:mod:`ganzoo.serve.batching`), the same path
as the API's samples route: up to :data:`SAMPLE_SLOTS` page requests wait on it at once, so that concurrent ones
can share a forward pass, and a full batcher queue answers "the server is busy". The other heavy events share one
concurrency group bounded by ``concurrency``; Gradio's queue holds at most ``max_queue`` waiting requests, beyond
which Gradio answers "queue is full" instead of growing memory.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.serve import distances, validation
from ganzoo.serve.compare_tab import add_compare_tab
from ganzoo.serve.offline import import_gradio
from ganzoo.serve.service import DEFAULT_CACHE_SIZE, SamplingService, is_toy
from ganzoo.store import ModelStore

DEFAULT_MAX_QUEUE, DEFAULT_CONCURRENCY = validation.DEFAULT_MAX_QUEUE, validation.DEFAULT_CONCURRENCY
ENDPOINTS = ("generate", "interpolate", "model_info", "curves", "critic_surface", "distances", "list_models",
             "compare")
COMPUTE = "compute"  # the concurrency group of every event that runs a network or draws a figure
SAMPLES = "samples"  # Generate's group: its requests wait on the batcher, which bounds the computing itself
SAMPLE_SLOTS = 8  # Generate requests that may wait on the batcher at once (more wait in Gradio's queue)
#: Small pictures (a 28x28 grid is 242 pixels wide) are shown enlarged with sharp pixels; files keep their size.
CSS = """
#samples img, #strip img, #curves img, #surface img, #compare-samples img { height: 100%; width: auto; max-width: 100%;
    object-fit: contain; image-rendering: pixelated; }
"""

INTRO = """# ganzoo sampling page
Pick a model from the store, then draw samples, walk the latent space, read its card and training curves.
Every button is also an API endpoint (`gradio_client`, see *Use via API* at the bottom and docs/serving.md)."""

DISTANCES_TEXT = f"""### Why only the Wasserstein distance gives a gradient here
Two distributions on parallel lines: **P_0 = (0, Z)** and **P_theta = (theta, Z)** with Z uniform on [0, 1]
(the WGAN paper's example 1). For every theta != 0 the two supports do not touch, so Jensen-Shannon is stuck at
log 2, KL at +inf and total variation at 1: moving the line closer changes none of them, and a generator trained on
them gets no signal. Only **W = |theta|** shrinks as the lines approach. The black cross is the exact W1 between
400 samples of each distribution (optimal transport), which lands near |theta|. theta runs from
-{distances.THETA_LIMIT:g} to {distances.THETA_LIMIT:g}."""


def _plain(value: Any) -> Any:
    """Paths as strings (what Gradio's file components accept); tuples element-wise."""
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return str(value) if isinstance(value, Path) else value


def _guard(fn: Callable[..., Any], gr: Any) -> Callable[..., Any]:
    """``fn`` with a :class:`GanzooError` turned into ``gr.Error`` (message and hint, HTML-escaped, no traceback)."""
    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        try:
            return _plain(fn(*args))
        except GanzooError as exc:
            text = exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
            raise gr.Error(html.escape(text, quote=False), print_exception=False) from exc

    return wrapper


def build_app(store: ModelStore | None = None, *, service: SamplingService | None = None,
              cache_size: int = DEFAULT_CACHE_SIZE, max_queue: int = DEFAULT_MAX_QUEUE,
              concurrency: int = DEFAULT_CONCURRENCY) -> Any:
    """The sampling page as a ``gradio.Blocks`` over ``store`` (default: ``GANZOO_HOME``); not yet launched.

    Pass ``service`` to share one :class:`SamplingService` (its caches) with the caller, who then also closes
    it; the page's service is ``app.ganzoo_service`` either way. Serve it with
    :func:`ganzoo.serve.server.build_server` (or, for a ``with`` block, :func:`ganzoo.serve.server.serving`).
    """
    max_queue = validation.whole_number(max_queue, "max_queue", 1, validation.MAX_QUEUE)
    concurrency = validation.whole_number(concurrency, "concurrency", 1, validation.MAX_CONCURRENCY)
    gr = import_gradio()
    owned = service is None
    service = service if service is not None else SamplingService(store, cache_size=cache_size)

    def guard(fn: Callable[..., Any]) -> Callable[..., Any]:
        return _guard(fn, gr)

    def picker(current: Any = None) -> Any:
        choices = service.choices()
        refs = [ref for _, ref in choices]
        value = current if current in refs else (refs[0] if refs else None)
        return gr.update(choices=choices, value=value)

    def toy_visibility(info: Any) -> tuple[Any, Any]:
        toy = isinstance(info, dict) and is_toy(info)
        return gr.update(visible=toy), gr.update(visible=not toy)

    compute = {"preprocess": False, "concurrency_id": COMPUTE, "concurrency_limit": concurrency}
    picture = {"type": "filepath", "format": "png", "interactive": False, "buttons": ["download", "fullscreen"]}
    with gr.Blocks(title="ganzoo sampling page", analytics_enabled=False, delete_cache=(600, 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Row(equal_height=True):
            model = gr.Dropdown(choices=[], value=None, label="Model: name:version: architecture + loss on data set, "
                                "headline metric", scale=6, elem_id="model")
            refresh = gr.Button("Refresh list", scale=1, elem_id="refresh")
        with gr.Tabs():
            with gr.Tab("Samples", elem_id="tab-samples"):
                with gr.Row(equal_height=True):
                    seed = gr.Number(value=0, precision=0, label=f"Seed (0 to {validation.MAX_SEED})",
                                     elem_id="seed")
                    n = gr.Number(value=64, precision=0, label=f"Number of samples (1 to {validation.MAX_SAMPLES})",
                                  elem_id="n")
                    generate = gr.Button("Generate", variant="primary", elem_id="generate")
                samples = gr.Image(label="Samples (PNG: download with the button on the picture)", height=520,
                                   elem_id="samples", **picture)
            with gr.Tab("Interpolation", elem_id="tab-interpolation"):
                with gr.Row(equal_height=True):
                    seed_a = gr.Number(value=0, precision=0, label="From seed", elem_id="seed-a")
                    seed_b = gr.Number(value=1, precision=0, label="To seed", elem_id="seed-b")
                    frames = gr.Slider(validation.MIN_FRAMES, validation.MAX_FRAMES, value=8, step=1,
                                       label="Frames", elem_id="frames")
                    interpolate = gr.Button("Interpolate", variant="primary", elem_id="interpolate")
                strip = gr.Image(label="Frames (spherical path between the two seeds' noise)", height=220,
                                 elem_id="strip", **picture)
                gif = gr.File(label="Animated GIF", elem_id="gif")
            with gr.Tab("Training curves", elem_id="tab-curves"):
                curves = gr.Image(label="Losses and the W estimate against the generator step", elem_id="curves",
                                  **picture)
            with gr.Tab("2-D critic", elem_id="tab-critic"):
                not_toy = gr.Markdown("This model makes images. The critic's value surface is drawn for 2-D toy "
                                      "models (gaussians8, gaussians25, swissroll).", visible=False)
                with gr.Column() as toy_controls:
                    gr.Markdown("Generated points over the real data, on the critic's value f(x) over the plane "
                                "(the WGAN-GP paper's figure 1).")
                    with gr.Row(equal_height=True):
                        surface_seed = gr.Number(value=0, precision=0, label="Seed", elem_id="surface-seed")
                        surface_n = gr.Number(value=256, precision=0, label="Generated points (1 to 256)",
                                              elem_id="surface-n")
                        draw_surface = gr.Button("Draw critic surface", variant="primary", elem_id="draw-surface")
                    surface = gr.Image(label="Critic value surface", elem_id="surface", **picture)
            with gr.Tab("Model card", elem_id="tab-card"):
                card = gr.Markdown(elem_id="card")
                info = gr.JSON(label="Summary", elem_id="info")
            with gr.Tab("Distances", elem_id="tab-distances"):
                gr.Markdown(DISTANCES_TEXT)
                theta = gr.Slider(-distances.THETA_LIMIT, distances.THETA_LIMIT, value=0.5, step=0.01,
                                  label="theta", elem_id="theta")
                distance_plot = gr.Image(label="W, JS, KL and TV against theta", elem_id="distance-plot", **picture)
                distance_values = gr.JSON(label="Values and gradients at theta", elem_id="distance-values")
            compare_pickers, compare_inputs = add_compare_tab(gr, service, guard, compute, picture)
        with gr.Accordion("Every stored model", open=False):
            catalogue = gr.JSON(label="list_models", elem_id="catalogue")

        generate.click(guard(service.generate), [model, seed, n], samples, api_name="generate", preprocess=False,
                       concurrency_id=SAMPLES, concurrency_limit=SAMPLE_SLOTS)
        interpolate.click(guard(service.interpolate), [model, seed_a, seed_b, frames], [strip, gif],
                          api_name="interpolate", **compute)
        draw_surface.click(guard(service.critic_surface), [model, surface_seed, surface_n], surface,
                           api_name="critic_surface", **compute)
        theta.change(guard(service.distances), theta, [distance_plot, distance_values], api_name="distances",
                     **compute)
        model.change(guard(service.model_info), model, [card, info], api_name="model_info", preprocess=False).then(
            toy_visibility, info, [toy_controls, not_toy], preprocess=False, api_visibility="private")
        model.change(guard(service.curves), model, curves, api_name="curves", **compute)
        refresh.click(guard(service.list_models), None, catalogue, api_name="list_models").then(
            picker, model, model, preprocess=False, api_visibility="private").then(
            compare_pickers, None, compare_inputs, api_visibility="private")
        demo.load(picker, None, model, api_visibility="private")
        demo.load(compare_pickers, None, compare_inputs, api_visibility="private")
        demo.load(guard(service.distances), theta, [distance_plot, distance_values], api_visibility="private",
                  **compute)
    demo.queue(max_size=max_queue, default_concurrency_limit=concurrency)
    demo.ganzoo_service = service
    demo.ganzoo_owns_service = owned
    return demo

