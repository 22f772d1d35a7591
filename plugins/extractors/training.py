"""Training a classifier extractor from scratch (``ganzoo extractor train``) and measuring its held-out accuracy."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from ganzoo_plugins.extractors.classifier import (
    CLASSIFIER_SIZE,
    FEATURES,
    ClassifierCNN,
    classifier_info,
    clear_classifier_cache,
    images_to_classifier_input,
)
from torch import Tensor, nn

from ganzoo import (
    ConfigError,
    GanzooError,
    TensorData,
    __version__,
    atomic_write,
    atomic_write_json,
    get_registry,
    sha256_file,
)

# --- training the classifiers -----------------------------------------------------------------------------------


@dataclass
class TrainedClassifier:
    name: str
    path: Path
    sidecar: Path
    test_accuracy: float
    meta: dict[str, Any]


def classifier_splits(name: str, registry: Any = None, *, test_only: bool = False) -> tuple[Any, Any]:
    """(train, test) ``TensorData`` of the data set classifier ``name`` is trained on, through the registry.

    Fashion-MNIST uses its own train/test splits; digits (no split) holds out a seeded 20 % permutation.
    ``test_only``: train is None where that saves loading it (Fashion-MNIST's 60,000 images).
    """
    info = classifier_info(name)
    spec = (registry or get_registry()).dataset(info.dataset)
    options = dict(spec.options)
    if "size" in options:
        options["size"] = CLASSIFIER_SIZE
    if info.holdout is None:
        train = None if test_only else spec.factory(**{**options, "split": "train"})
        return train, spec.factory(**{**options, "split": "test"})
    data = spec.factory(**options)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    n_test = round(info.holdout * len(data))

    def pick(index: Tensor) -> TensorData:
        return TensorData(data.name, data.samples[index], data.kind, data.labels[index])

    return pick(order[n_test:]), pick(order[:n_test])


def accuracy(model: nn.Module, data: Any, batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``model`` on a labelled ``TensorData`` (eval mode)."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            images = images_to_classifier_input(data.samples[start:start + batch_size])
            correct += int((model(images)[1].argmax(1) == data.labels[start:start + batch_size]).sum())
    return correct / len(data)


def train_classifier(name: str, out: str | Path, *, epochs: int | None = None, batch_size: int = 128,
                     lr: float = 2e-3, seed: int = 0, command: str = "",
                     echo: Callable[[str], None] = print) -> TrainedClassifier:
    """Train classifier ``name`` from scratch on CPU-sized budgets and write ``out/NAME.safetensors`` + ``.json``.

    AdamW with a one-cycle learning rate, no augmentation; reports train and held-out accuracy per epoch. The
    sidecar records test accuracy, sha256, epochs, seed and the command, so shipped weights can be reproduced.
    """
    from safetensors.torch import save_file

    info = classifier_info(name)
    epochs = info.default_epochs if epochs is None else epochs
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"--epochs must be a whole number >= 1, got {epochs!r}")
    train, test = classifier_splits(name)
    if train.labels is None:
        raise GanzooError(f"data set {info.dataset!r} has no labels; a classifier cannot be trained on it")
    torch.manual_seed(seed)
    model = ClassifierCNN(info.classes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = len(train) // batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
    order_rng = torch.Generator().manual_seed(seed + 1)
    started = time.perf_counter()
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(train), generator=order_rng)
        total = 0.0
        for i in range(steps_per_epoch):
            index = order[i * batch_size:(i + 1) * batch_size]
            _, logits = model(images_to_classifier_input(train.samples[index]))
            loss = F.cross_entropy(logits, train.labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        test_acc = accuracy(model, test)
        history.append({"epoch": epoch, "loss": round(total / steps_per_epoch, 5), "test_accuracy": test_acc})
        echo(f"epoch {epoch}/{epochs}: loss {total / steps_per_epoch:.4f}, test accuracy {100 * test_acc:.2f} % "
             f"({time.perf_counter() - started:.0f} s)")
    model.eval()
    train_acc, test_acc = accuracy(model, train), accuracy(model, test)
    out = Path(out).expanduser()
    path = out / f"{info.name}.safetensors"
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata={"name": info.name, "dataset": info.dataset}))
    meta = {
        "name": info.name, "dataset": info.dataset, "classes": info.classes,
        "train_split": "train" if info.holdout is None else f"seeded {100 - 100 * info.holdout:.0f} % of all",
        "test_split": "test" if info.holdout is None else f"seeded {100 * info.holdout:.0f} % held out",
        "n_train": len(train), "n_test": len(test),
        "test_accuracy": round(test_acc, 5), "train_accuracy": round(train_acc, 5),
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "history": history,
        "parameters": sum(p.numel() for p in model.parameters()), "bytes": path.stat().st_size,
        "sha256": sha256_file(path), "features": FEATURES, "feature_dim": model.embed.out_features,
        "command": command or f"ganzoo extractor train {info.name} --epochs {epochs} --out {out}",
        "seconds": round(time.perf_counter() - started, 1), "torch_version": torch.__version__,
        "ganzoo_version": __version__, "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    sidecar = atomic_write_json(out / f"{info.name}.json", meta)
    for written in (path, sidecar):
        written.chmod(0o644)  # files to ship or share (the atomic writer's temporary files are private)
    clear_classifier_cache()
    return TrainedClassifier(info.name, path, sidecar, test_acc, meta)
