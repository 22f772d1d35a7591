"""Model cards: Markdown with YAML front matter in the Hugging Face format, made from a stored model's config.

The front matter carries ``library_name: ganzoo``, the license, tags, data sets and a ``model-index`` with every
evaluation result and how it was measured (extractor, sample count, reference split, versions). The body follows
the template ``ganzoo/store/templates/model_card.md`` (a copy ships as ``model_cards/TEMPLATE.md``): Model details,
Training, Evaluation, Samples, Uses and limitations, How to use, Citation. Cards are made offline; nothing calls the
Hub.

Template placeholders (``string.Template``): ``$front_matter`` (the YAML), ``$ref`` (name:version), ``$summary``,
``$model_details``, ``$training``, ``$evaluation``, ``$samples``, ``$uses``, ``$citation``. Edit the template in
``ganzoo/store/templates/model_card.md`` and copy it to ``model_cards/TEMPLATE.md`` (a test checks they are equal).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from string import Template
from typing import Any

from ganzoo import __version__
from ganzoo.errors import GanzooError
from ganzoo.runs.config import EMA_BN_AVERAGE, EMA_BN_RECOMPUTE, USER_SOURCES

TEMPLATE_PATH = ("templates", "model_card.md")  # inside the ganzoo.store package (package data)
DEFAULT_LICENSE = "apache-2.0"
#: Section headings every card has, in order.
SECTIONS = ("Model details", "Training", "Evaluation", "Samples", "Uses and limitations", "How to use", "Citation")
KIND_TITLES = {"arch": "Architecture", "loss": "Loss", "dataset": "Data set"}
HYPERPARAMETERS = ("optimizer", "lr", "betas", "n_critic", "batch_size", "latent_dim", "lr_schedule", "steps", "seed")
#: Shown only when they differ from ganzoo's default (off / follow lr).
OPTIONAL_HYPERPARAMETERS = {"lr_g": None, "lr_d": None, "ema": 0.0, "ema_start": 0, "ema_bn": EMA_BN_RECOMPUTE,
                            "critic_schedule": "constant"}
GANZOO_BIBTEX = """@software{ganzoo,
  title = {ganzoo: a plugin-based GAN zoo},
  version = {%s},
  note = {https://pypi.org/project/ganzoo/}
}"""


def template_text() -> str:
    """The card template shipped inside the package."""
    return resources.files("ganzoo.store").joinpath(*TEMPLATE_PATH).read_text(encoding="utf-8")


def _task(config: Mapping[str, Any]) -> dict[str, str]:
    if config.get("data_kind") == "points":
        return {"type": "unconditional-generation", "name": "Unconditional generation of 2-D points"}
    return {"type": "unconditional-image-generation", "name": "Unconditional image generation"}


def _split(reference: str | None, dataset: str) -> tuple[str, str | None]:
    """"fashion-mnist/test" -> ("fashion-mnist", "test"); no reference -> (the training data set, None)."""
    if not reference:
        return dataset, None
    name, _, split = str(reference).partition("/")
    return name, split or None


def model_index(name: str, config: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``model-index`` entry: results grouped by reference data, each metric with how it was measured."""
    groups: dict[str | None, list[Mapping[str, Any]]] = {}
    for result in results:
        groups.setdefault(result.get("reference"), []).append(result)
    entries = []
    for reference, group in groups.items():
        data_name, split = _split(reference, config["dataset"])
        dataset: dict[str, Any] = {"name": data_name, "type": data_name}
        if split:
            dataset["split"] = split
        metrics = []
        for r in group:
            how = {k: r.get(k) for k in ("extractor", "n_samples", "reference", "higher_is_better",
                                         "torch_fidelity_version", "ganzoo_version", "measured_at", "generator")}
            metrics.append({"type": r["metric"], "name": r["label"], "value": float(r["value"]), "verified": False,
                            "args": how})
        entries.append({"task": _task(config), "dataset": dataset, "metrics": metrics})
    return [{"name": name, "results": entries}]


def front_matter(name: str, config: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    tags = ["gan", "ganzoo", config["arch"], config["loss"], config["dataset"]]
    data: dict[str, Any] = {
        "library_name": "ganzoo",
        "license": config.get("license", DEFAULT_LICENSE),
        "tags": list(dict.fromkeys(tags)),
        "datasets": [config["dataset"]],
    }
    if config.get("data_kind") == "images":
        data["pipeline_tag"] = "unconditional-image-generation"
    data["model-index"] = model_index(name, config, results)
    return data


def _plugin_line(config: Mapping[str, Any], kind: str) -> str:
    info = (config.get("plugins") or {}).get(kind) or {}
    dist, version = info.get("distribution"), info.get("version")
    provider = f" (from {dist}{' ' + str(version) if version else ''})" if dist else ""
    line = f"- **{KIND_TITLES[kind]}**: `{config[kind]}`{provider}"
    if info.get("description"):
        line += f": {info['description']}"
    return line


def _papers(config: Mapping[str, Any]) -> list[str]:
    papers = [((config.get("plugins") or {}).get(k) or {}).get("paper") for k in ("arch", "loss", "dataset")]
    return list(dict.fromkeys(p for p in papers if p))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return f"`{json.dumps(value)}`"
    return f"`{value}`" if value is not None else "-"


def _steps_trained(config: Mapping[str, Any]) -> Any:
    """Generator steps the run made (its log), else the steps it was configured for."""
    return (config.get("training") or {}).get("steps", config["train_config"].get("steps"))


def _shape_text(config: Mapping[str, Any]) -> str:
    return "x".join(str(d) for d in config["shape"])


def _model_details(config: Mapping[str, Any]) -> str:
    shape = _shape_text(config)
    lines = [_plugin_line(config, k) for k in ("arch", "loss", "dataset")]
    lines += [f"- **Generator**: latent size {config['latent_dim']} -> {config['data_kind']} of shape {shape}",
              f"- **Architecture options**: {_fmt(config['train_config'].get('arch_options', {}))}",
              *_weights_lines(config),
              f"- **Made with**: ganzoo {config.get('ganzoo_version', '?')}, torch {config.get('torch_version', '?')}",
              "", "Paper references:", ""]
    lines += [f"- {paper}" for paper in _papers(config)] or ["- none recorded"]
    return "\n".join(lines)


def _ema(config: Mapping[str, Any]) -> float:
    decay = config["train_config"].get("ema") or 0.0
    return float(decay) if isinstance(decay, (int, float)) else 0.0


def _weights_lines(config: Mapping[str, Any]) -> list[str]:
    """Which generator weights the model keeps and which one is used, when it keeps a moving average."""
    decay = _ema(config)
    if not decay:
        return []
    start = config["train_config"].get("ema_start") or 0
    return [f"- **Generator weights**: the averaged generator (exponential moving average of the weights, decay "
            f"{decay:g}, from step {start}; `generator_ema.safetensors`) is what `ganzoo sample`, `ganzoo eval`, "
            "`load_generator` and the sampling page use; the raw generator (`generator.safetensors`) is kept "
            "beside it (`--raw`, `load_generator(..., raw=True)`)",
            f"- **Averaged generator's batch-norm statistics** (if it has batch norm): {_ema_bn(config)}"]


def _ema_bn(config: Mapping[str, Any]) -> str:
    """How the averaged generator's normalisation statistics were made (``ema_bn``; a model stored before ganzoo
    recorded it had them averaged)."""
    mode = config["train_config"].get("ema_bn")
    if mode == EMA_BN_RECOMPUTE:
        return "recomputed for the averaged weights from fixed noise (standing statistics, `ema_bn=recompute`)"
    recorded = "`ema_bn=average`" if mode == EMA_BN_AVERAGE else "stored before ganzoo recorded `ema_bn`"
    return f"averaged with the weights' decay ({recorded})"


def _training(config: Mapping[str, Any]) -> str:
    tc, training = config["train_config"], config.get("training", {})
    sources = tc.get("sources", {})
    data = config.get("data", {})
    options = tc.get("dataset_options") or {}
    lines = [f"- **Data**: `{config['dataset']}` ({data.get('kind', config['data_kind'])}, sample shape "
             f"{_shape_text(config)})" + (f", options {_fmt(options)}" if options else ""),
             f"- **Steps**: {_steps_trained(config)} generator steps, {tc.get('n_critic')} critic "
             "step(s) each",
             f"- **Device**: {training.get('device', '?')}",
             *_processes(tc, training),
             f"- **Arithmetic**: {_arithmetic(tc)}",
             f"- **Wall time**: {_duration(training.get('wall_time_s'))}", ""]
    lines += ["| hyperparameter | value | set by |", "|---|---|---|"]
    for key in HYPERPARAMETERS:
        if key in tc:
            lines.append(f"| {key} | {_fmt(tc[key])} | {sources.get(key, 'ganzoo default')} |")
    for key, default in OPTIONAL_HYPERPARAMETERS.items():
        if tc.get(key, default) != default:
            lines.append(f"| {key} | {_fmt(tc[key])} | {sources.get(key, 'ganzoo default')} |")
    for group, prefix in (("loss_options", "loss"), ("arch_options", "arch")):
        for key, value in (tc.get(group) or {}).items():
            source = sources.get(f"{prefix}.{key}", sources.get(key, f"default of the {prefix}"))
            lines.append(f"| {prefix}.{key} | {_fmt(value)} | {source} |")
    lines += ["", f"To train it again (same seed, device and versions: the same weights): `{train_command(config)}`"]
    final = training.get("final") or {}
    shown = {k: final[k] for k in ("critic_loss", "generator_loss", "w_estimate") if final.get(k) is not None}
    if shown:
        lines += ["", "Final step: " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()) + "."]
    for note in training.get("notes") or []:
        lines += ["", f"Note: {note}"]
    return "\n".join(lines)


def _processes(tc: Mapping[str, Any], training: Mapping[str, Any]) -> list[str]:
    """The data-parallel line of a model trained by several processes (torchrun); none for one process."""
    processes = training.get("processes") or {}
    world = int(processes.get("world_size", tc.get("world_size", 1)))
    if world <= 1:
        return []
    batch = int(processes.get("global_batch", tc["batch_size"]))
    return [f"- **Processes**: {world}, data-parallel ({processes.get('backend') or 'torchrun'}): global batch "
            f"{batch} = {world} x {batch // world} per process; batch norm "
            f"{processes.get('batchnorm', 'not recorded')}"]


def train_command(config: Mapping[str, Any]) -> str:
    """The ``ganzoo train`` command that repeats a stored model's run: its names, steps, seed and device, and a
    ``--set`` for every other value the user chose (flag or ``--set``); defaults are left to the plugins."""
    tc = config["train_config"]
    device = (config.get("training") or {}).get("device") or tc.get("device", "auto")
    world = int(tc.get("world_size", 1))
    words = ["ganzoo", "train", *(["--nproc", str(world)] if world > 1 else []), tc["arch"], tc["loss"],
             "--dataset", tc["dataset"], "--steps", str(tc["steps"]),
             "--seed", str(tc["seed"]), "--device", str(device)]
    for key, source in sorted((tc.get("sources") or {}).items()):
        if source not in USER_SOURCES or key in ("steps", "seed", "device", "name", "register"):
            continue
        group, _, name = key.rpartition(".")
        value = (tc.get(f"{group}_options") or {}).get(name) if group else tc.get(key)
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        words += ["--set", f"{key}={text}"]
    if tc.get("name"):
        words += ["--name", str(tc["name"])]
    return shlex.join(words)


def _arithmetic(tc: Mapping[str, Any]) -> str:
    """How the run computed: precision (fp32 for runs made before the setting existed), layout, compilation."""
    precision = tc.get("precision", "fp32")
    text = {"fp32": "fp32 (float32 throughout)",
            "bf16": "bf16 (networks under bfloat16 autocast; losses, penalty and weights float32)",
            "fp16": "fp16 (networks under float16 autocast with gradient scaling; losses, penalty and weights "
                    "float32)"}.get(precision, str(precision))
    if tc.get("channels_last"):
        text += ", channels-last"
    if tc.get("compile", "none") != "none":
        text += f", torch.compile: {tc['compile']}"
    return text


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "not recorded"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def _evaluation(results: Sequence[Mapping[str, Any]], averaged: bool = False) -> str:
    """The results table; with a generator column (averaged or raw) when the model keeps a moving average."""
    if not results:
        return ("Not evaluated yet. Run `ganzoo eval` on this model to add results; they appear here and in the "
                "front matter's model-index." + (" `ganzoo eval` scores the averaged generator, `ganzoo eval --raw` "
                                                 "the raw one; both appear here." if averaged else ""))
    averaged = averaged or any(r.get("generator") == "ema" for r in results)
    header = "| metric | value |" + (" generator |" if averaged else "")
    lines = [header + " extractor | samples | reference split | measured |",
             "|---|---|" + ("---|" if averaged else "") + "---|---|---|---|"]
    for r in results:
        better = "" if r.get("higher_is_better") is None else (" (higher is better)" if r["higher_is_better"]
                                                               else " (lower is better)")
        generator = (" averaged |" if r.get("generator") == "ema" else " raw |") if averaged else ""
        lines.append(f"| {r['label']}{better} | {float(r['value']):.4g} |{generator} {r.get('extractor') or '-'} | "
                     f"{r.get('n_samples') or '-'} | {r.get('reference') or '-'} | {r.get('measured_at') or '-'} |")
    versions = sorted({f"torch-fidelity {r['torch_fidelity_version']}" for r in results
                       if r.get("torch_fidelity_version")} | {f"ganzoo {r['ganzoo_version']}" for r in results
                                                                if r.get("ganzoo_version")})
    if versions:
        lines += ["", f"Measured with {', '.join(versions)}."]
    return "\n".join(lines)


def _samples(config: Mapping[str, Any], files: Iterable[str]) -> str:
    files = set(files)
    parts = []
    if "samples.png" in files:
        what = "Generated points over real ones" if config.get("data_kind") == "points" else "A grid of samples"
        raw = " (of the raw generator)" if _ema(config) else ""
        parts.append(f"![samples](samples.png)\n\n{what} at the final training step{raw}, from the run's fixed "
                     "noise.")
    else:
        parts.append("No sample grid was stored; `ganzoo sample` makes one.")
    if "curves.png" in files:
        parts.append("![training curves](curves.png)\n\nLosses and the W estimate against the generator step.")
    return "\n\n".join(parts)


def _uses(config: Mapping[str, Any]) -> str:
    dataset = config["dataset"]
    steps = _steps_trained(config)
    text = [f"This generator makes unconditional samples that resemble `{dataset}`. It is a research and teaching "
            "artefact for comparing GAN objectives and architectures, not a production model.", "",
            f"- Trained for {steps} steps: judge quality by the evaluation above and the samples, not by the name.",
            "- A GAN can drop modes of its data: it may never produce some kinds of sample that the data holds.",
            f"- Its samples inherit the biases and licence terms of `{dataset}`; check them before reuse.",
            "- The generator takes Gaussian noise only; it cannot be conditioned on a class or a prompt."]
    if config.get("data_kind") == "points":
        text.append("- Toy 2-D data: useful to study mode coverage and training dynamics, nothing else.")
    return "\n".join(text)


def _citation(config: Mapping[str, Any]) -> str:
    lines = ["```bibtex", GANZOO_BIBTEX % config.get("ganzoo_version", __version__), "```"]
    papers = _papers(config)
    if papers:
        lines += ["", "Please also cite the papers this model builds on:", ""] + [f"- {p}" for p in papers]
    return "\n".join(lines)


def render_card(config: Mapping[str, Any], results: Sequence[Mapping[str, Any]], ref: str,
                files: Iterable[str] = ("samples.png", "curves.png")) -> str:
    """The card of model ``ref`` ("name:version") from its config.json and evaluation ``results``."""
    import yaml

    name = ref.partition(":")[0]
    summary = (f"A `{config['arch']}` generator trained with the `{config['loss']}` loss on `{config['dataset']}` "
               f"for {_steps_trained(config)} steps with "
               f"[ganzoo](https://pypi.org/project/ganzoo/).")
    values = {
        "front_matter": yaml.safe_dump(front_matter(name, config, results), sort_keys=False,
                                       allow_unicode=True).rstrip("\n"),
        "ref": ref, "summary": summary, "model_details": _model_details(config), "training": _training(config),
        "evaluation": _evaluation(results, bool(_ema(config))), "samples": _samples(config, files),
        "uses": _uses(config), "citation": _citation(config),
    }
    return Template(template_text()).substitute(values)


def parse_front_matter(card: str) -> dict[str, Any]:
    """The YAML front matter of a card as a dict (raises GanzooError when there is none)."""
    import yaml

    if not card.startswith("---\n"):
        raise GanzooError("the model card has no YAML front matter (it must start with a '---' line)")
    end = card.find("\n---\n", 4)
    if end < 0:
        raise GanzooError("the model card's YAML front matter is not closed by a '---' line")
    data = yaml.safe_load(card[4:end])
    if not isinstance(data, dict):
        raise GanzooError("the model card's front matter is not a YAML mapping")
    return data
