"""A run's settings: :class:`TrainConfig`, declared once (fields, defaults, which layer sets them, the command-line
flag and help of those that have one), validated, and written to / read from the run folder's config.json.

``ganzoo train``'s options are generated from these fields (:mod:`ganzoo.cli.train`), and their resolution in
layers with provenance is :func:`ganzoo.train.resolve.resolve_config`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from typing import Any

from ganzoo.errors import ConfigError
from ganzoo.plugin.specs import OPTIMIZERS, valid_betas
from ganzoo.runs.noise import MAX_SEED, check_seed

LR_SCHEDULES = ("constant", "linear")
CRITIC_SCHEDULES = ("constant", "wgan-reference")
#: What the generator's moving average does with its normalisation statistics (ganzoo.train.averaging): recompute
#: them for the averaged weights ("standing statistics", the default) or average them with the weights.
EMA_BN_RECOMPUTE, EMA_BN_AVERAGE = "recompute", "average"
EMA_BN_MODES = (EMA_BN_RECOMPUTE, EMA_BN_AVERAGE)
WGAN_REFERENCE_DITERS = 100  # critic iterations of the reference code's warm-up and every 500th generator step
#: Arithmetic of a run (ganzoo.runs.precision): fp32 (the papers'), bf16 autocast, fp16 autocast + gradient scaling.
PRECISIONS = ("fp32", "bf16", "fp16")
#: Which networks torch.compile compiles: none, the generator, the critic, or both.
COMPILE_TARGETS = ("none", "generator", "critic", "both")
OPTION_GROUPS = {"loss": "loss_options", "arch": "arch_options", "dataset": "dataset_options"}
#: Which layer gives a field its default: "name" fields are the entries a run combines; "training" fields come from
#: the loss's paper (latent_dim from the architecture); "run" fields are the loop's own, with the defaults here;
#: "record" fields are filled in by the resolution (options, sources, notes).
NAME, TRAINING, RUN, RECORD = "name", "training", "run", "record"


def setting(layer: str, default: Any = MISSING, *, help: str = "", flag: str | None = None,
            short: str | None = None, flag_type: Any = None) -> Any:
    """A :class:`TrainConfig` field: ``layer`` (see above), its default, and for the fields ``ganzoo train`` has a flag
    for, the flag's name, short name, type and help (the flag's own default is always "not given")."""
    metadata = {"layer": layer, "help": help, "flag": flag, "short": short, "flag_type": flag_type}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(kw_only=True)
class TrainConfig:
    """Everything needed to run (and re-run) a training job. JSON-serialisable. Every setting is declared here once."""

    arch: str = setting(NAME, help="architecture name (`ganzoo list --kind arch`)")
    loss: str = setting(NAME, help="loss name (`ganzoo list --kind loss`)")
    dataset: str = setting(NAME, flag="--dataset", short="-d", flag_type=str,
                           help="data set name [default: fashion-mnist]")
    steps: int = setting(RUN, 1000, flag="--steps", flag_type=int,
                         help="generator steps [default: 1000]; with --resume: the new total")
    batch_size: int = setting(TRAINING, flag="--batch-size", short="-b", flag_type=int,
                              help="samples per batch [default: from the loss]")
    optimizer: str = setting(TRAINING, help="adam or rmsprop [default: from the loss]")
    lr: float = setting(TRAINING, flag="--lr", flag_type=float, help="learning rate [default: from the loss]")
    lr_g: float | None = setting(RUN, None, flag="--lr-g", flag_type=float,
                                 help="the generator's own learning rate (TTUR, Heusel et al. 2017) [default: lr]")
    lr_d: float | None = setting(RUN, None, flag="--lr-d", flag_type=float,
                                 help="the critic's own learning rate (TTUR, Heusel et al. 2017) [default: lr]")
    betas: list[float] | None = setting(TRAINING, help="Adam's betas, e.g. [0.0,0.9] [default: from the loss]")
    n_critic: int = setting(TRAINING, flag="--n-critic", flag_type=int,
                            help="critic steps per generator step [default: from the loss]")
    latent_dim: int = setting(TRAINING, help="size of the noise z [default: from the architecture]")
    seed: int = setting(RUN, 0, flag="--seed", flag_type=int, help=f"random seed, 0 to {MAX_SEED} [default: 0]")
    device: str = setting(RUN, "auto", flag="--device", flag_type=str,
                          help="auto (cuda, else mps, else cpu), cpu, cuda, cuda:N, mps [default: auto]")
    sample_every: int = setting(RUN, 0, flag="--sample-every", flag_type=int,
                                help="steps between sample grids [default: about 10 per run]")
    checkpoint_every: int = setting(RUN, 0, flag="--checkpoint-every", flag_type=int,
                                    help="steps between checkpoints [default: about 4 per run]")
    keep_checkpoints: int = setting(RUN, 3, help="checkpoints kept in the run folder")
    n_samples: int = setting(RUN, 64, help="samples in each grid from fixed noise")
    lr_schedule: str = setting(RUN, "constant", help="constant, or linear: decay to 0 over the run (WGAN-GP paper)")
    ema: float = setting(RUN, 0.0, help="decay of the generator's exponential moving average, e.g. 0.999 (0: off); "
                                        "stored beside the raw generator, sampled and evaluated by default")
    ema_start: int = setting(RUN, 0, help="generator step from which the average is taken (before: a copy of the raw "
                                          "generator) [default: 0, the initial weights]")
    ema_bn: str = setting(RUN, EMA_BN_RECOMPUTE, help="the average's batch-norm statistics: recompute (for the "
                          "averaged weights, from fixed noise, whenever it is saved: standing statistics) or "
                          "average (with the weights' decay, as ganzoo did before) [default: recompute]")
    critic_schedule: str = setting(RUN, "constant", help="constant (n_critic every step: Algorithm 1), or "
                                   "wgan-reference: 100 critic steps for the first 25 generator steps and every "
                                   "500th (Arjovsky et al.'s code)")
    precision: str = setting(RUN, "fp32", flag="--precision", flag_type=str,
                             help="fp32, bf16 (autocast on CPU and CUDA) or fp16 (autocast + gradient scaling, CUDA "
                                  "only); losses and penalties stay float32 [default: fp32]")
    channels_last: bool = setting(RUN, False, flag="--channels-last/--no-channels-last", flag_type=bool,
                                  help="channels-last memory format for image networks and batches "
                                       "[default: off]")
    compile: str = setting(RUN, "none", flag="--compile", flag_type=str,
                           help="torch.compile: none, generator, critic or both (not a critic whose loss "
                                "differentiates its gradient, e.g. wgan-gp) [default: none]")
    eval_every: int = setting(RUN, 0, flag="--eval-every", flag_type=int,
                              help="score the generator every K steps into metrics.jsonl and curves.png (0: off)")
    eval_metric: str | None = setting(RUN, None, flag="--eval-metric", flag_type=str,
                                      help="metric for --eval-every [default: w1 for points, fid for images]")
    eval_n: int = setting(RUN, 0, help="samples per --eval-every evaluation (0: 1,000 points / 2,000 images)")
    log_layer_grads: bool = setting(RUN, False, help="also log to metrics.jsonl each parameter's gradient norm "
                                    "(grad/critic/NAME at the last critic step, grad/generator/NAME), the "
                                    "generator's total gradient norm (grad_norm/generator) and the mean sigmoid of "
                                    "the critic's scores on the generator's batch (d_fake: D(G(z)) for GAN losses)")
    name: str | None = setting(RUN, None, flag="--name", flag_type=str,
                               help="model-store name [default: ARCH-LOSS-DATASET]")
    register: bool = setting(RUN, True, flag="--register/--no-register", flag_type=bool,
                             help="store the finished model (ganzoo models) [default: register]")
    sync_batchnorm: bool = setting(RUN, False, flag="--sync-batchnorm/--no-sync-batchnorm", flag_type=bool,
                                   help="data-parallel runs: batch norm statistics over every rank's batch "
                                        "(SyncBatchNorm, CUDA) instead of each rank's own [default: per rank]")
    world_size: int = setting(RECORD, 1, help="processes training the run together (torchrun's WORLD_SIZE); "
                                              "batch_size is their global batch")
    loss_options: dict[str, Any] = setting(RECORD, {})
    arch_options: dict[str, Any] = setting(RECORD, {})
    dataset_options: dict[str, Any] = setting(RECORD, {})
    sources: dict[str, str] = setting(RECORD, {})
    notes: list[str] = setting(RECORD, [])

    def __post_init__(self) -> None:
        if self.sample_every <= 0:
            self.sample_every = max(1, self.steps // 10)
        if self.checkpoint_every <= 0:
            self.checkpoint_every = max(1, self.steps // 4)
        self.validate()

    def validate(self) -> None:
        for key in ("steps", "batch_size", "n_critic", "latent_dim", "keep_checkpoints", "n_samples", "world_size"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{key} must be a whole number >= 1, got {value!r}")
        check_seed(self.seed)
        if not isinstance(self.lr, (int, float)) or not 0 < self.lr < 1:
            raise ConfigError(f"lr must be a number in (0, 1), got {self.lr!r}", hint="e.g. --lr 1e-4")
        for key in ("lr_g", "lr_d"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not 0 < value < 1):
                raise ConfigError(f"{key} must be a number in (0, 1), got {value!r}", hint=f"e.g. --set {key}=4e-4")
        if isinstance(self.ema, bool) or not isinstance(self.ema, (int, float)) or not 0 <= self.ema < 1:
            raise ConfigError(f"ema must be a number in [0, 1) (0: off), got {self.ema!r}", hint="e.g. --set ema=0.999")
        if self.ema_bn not in EMA_BN_MODES:
            raise ConfigError(f"ema_bn must be one of {', '.join(EMA_BN_MODES)}, got {self.ema_bn!r}",
                              hint="e.g. --set ema_bn=average")
        if self.critic_schedule not in CRITIC_SCHEDULES:
            raise ConfigError(f"critic_schedule must be one of {', '.join(CRITIC_SCHEDULES)}, "
                              f"got {self.critic_schedule!r}", hint="e.g. --set critic_schedule=wgan-reference")
        for key in ("eval_every", "eval_n", "ema_start"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{key} must be a whole number >= 0 (0: off / automatic), got {value!r}")
        if self.name is not None and not isinstance(self.name, str):
            raise ConfigError(f"name must be a model name, got {self.name!r}", hint="e.g. --name my-ring")
        for key in ("register", "sync_batchnorm", "log_layer_grads"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError(f"{key} must be true or false, got {getattr(self, key)!r}")
        if self.batch_size % self.world_size:
            raise ConfigError(f"batch size {self.batch_size} does not split over {self.world_size} processes",
                              hint=f"--batch-size is the global batch: pass a multiple of {self.world_size}")
        if self.eval_metric is not None and not isinstance(self.eval_metric, str):
            raise ConfigError(f"eval_metric must be a metric name, got {self.eval_metric!r}",
                              hint="`ganzoo list --kind metric` shows them")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}",
                              hint="e.g. --precision bf16")
        if not isinstance(self.channels_last, bool):
            raise ConfigError(f"channels_last must be true or false, got {self.channels_last!r}")
        if self.compile not in COMPILE_TARGETS:
            raise ConfigError(f"compile must be one of {', '.join(COMPILE_TARGETS)}, got {self.compile!r}",
                              hint="e.g. --compile generator")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.optimizer == "adam":
            betas = tuple(float(b) for b in self.betas) if isinstance(self.betas, (list, tuple)) else self.betas
            if not valid_betas(betas):
                raise ConfigError(f"Adam betas must be two numbers in [0, 1), got {self.betas!r}",
                                  hint="e.g. --set betas=[0.0,0.9]")
            self.betas = list(betas)  # type: ignore[arg-type]

    def learning_rates(self) -> tuple[float, float]:
        """(generator's, critic's) learning rate: ``lr_g`` / ``lr_d`` where set, else ``lr``."""
        return (self.lr if self.lr_g is None else self.lr_g), (self.lr if self.lr_d is None else self.lr_d)

    def critic_steps(self, generator_step: int) -> int:
        """Critic steps before generator step ``generator_step`` (0 for the first): ``n_critic``, or with
        ``critic_schedule=wgan-reference`` 100 for generator steps 0-24 and every 500th (0, 500, 1000, ...), as in
        Arjovsky et al.'s code (main.py: ``Diters = 100 if gen_iterations < 25 or gen_iterations % 500 == 0``)."""
        if self.critic_schedule == "wgan-reference" and (generator_step < 25 or generator_step % 500 == 0):
            return WGAN_REFERENCE_DITERS
        return self.n_critic

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(sorted(unknown))}")
        return cls(**data)


def parse_value(text: str) -> Any:
    """``--set`` values: JSON where it parses (numbers, true/false, null, lists), else the plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_key_values(items: Sequence[str], flag: str = "--set",
                     example: str = "--set lambda=5 --set arch.width=32") -> dict[str, Any]:
    """``["lambda=5", "arch.width=32"]`` -> ``{"lambda": 5, "arch.width": 32}`` (values as :func:`parse_value`
    reads them); an item without ``key=`` is refused naming ``flag``, with ``example`` as the fix."""
    parsed: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} expects key=value, got {item!r}", hint=f"e.g. {example}")
        parsed[key.strip()] = parse_value(value.strip())
    return parsed


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """``--set`` values: ``["lambda=5", "arch.width=32"]`` -> ``{"lambda": 5, "arch.width": 32}``."""
    return parse_key_values(items)


#: ``TrainConfig.sources`` of the values a user chose (the rest are defaults): what a command must repeat.
SET_SOURCE, FLAG_SOURCE = "--set", "command line"
USER_SOURCES = (SET_SOURCE, FLAG_SOURCE)


def settings_of(layer: str) -> list[Field[Any]]:
    """The :class:`TrainConfig` fields of one layer, in declaration order."""
    return [f for f in fields(TrainConfig) if f.metadata["layer"] == layer]


#: The run fields with ganzoo's own defaults, and the fields whose defaults come from the plugins.
RUN_DEFAULTS: dict[str, Any] = {f.name: f.default for f in settings_of(RUN)}
TRAINING_KEYS = tuple(f.name for f in settings_of(TRAINING))
#: The fields ``ganzoo train`` has a flag for, in declaration order.
FLAGGED = tuple(f for f in fields(TrainConfig) if f.metadata["flag"])
