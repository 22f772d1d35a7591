"""Data-parallel training (issue 13) on CPU with gloo, in real torchrun process groups of 2 ranks.

The heavy tests of the distributed module live here, each one process-group launch: exactness of one generator step
for every loss (2 ranks x 32 == one process x 64), the `ganzoo train --nproc` CLI with rank-0-only writes and
resume, a rank killed mid-run and restarted by torchrun's elastic agent, and two "nodes" on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import ganzoo_plugins.losses as builtin_losses
import pytest
import torch

from ganzoo import api
from ganzoo.plugin.loading import get_registry
from ganzoo.train.distributed import Ranks

REGISTRY = get_registry()
LOSSES = [s.name for s in REGISTRY.entries("loss")]
WORKER = Path(__file__).with_name("distributed_worker.py")
sys.path.insert(0, str(WORKER.parent))
import distributed_worker  # noqa: E402


def worker_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def torchrun(*args: str, timeout: float = 180, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", *args], capture_output=True, text=True,
                          env=worker_env(), timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def two_rank_steps(tmp_path_factory) -> Path:
    """One generator step of every loss, made by 2 ranks x 32 in one torchrun launch."""
    out = tmp_path_factory.mktemp("ddp-exact")
    done = torchrun("--nproc-per-node", "2", "--standalone", str(WORKER), str(out))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def replay(eps: list[torch.Tensor]):
    """The penalty's eps, handed out in the order they were drawn."""
    queue = list(eps)

    def draw(batch: torch.Tensor) -> torch.Tensor:
        drawn = queue.pop(0)
        assert drawn.shape[0] == batch.shape[0]
        return drawn

    return draw, queue


def two_rank_result(out: Path, case: str) -> list[dict]:
    ranks = [torch.load(out / case / f"rank{r}.pt") for r in (0, 1)]
    assert ranks[0]["world_size"] == 2
    for key in ("generator", "critic"):  # DDP keeps the replicas equal
        for name, value in ranks[0][key].items():
            if value.is_floating_point() and "running" not in name:  # per-rank batch norm: own running statistics
                torch.testing.assert_close(ranks[1][key][name], value, rtol=0, atol=0, msg=f"{case} {key} {name}")
    return ranks


@pytest.mark.parametrize("case", list(distributed_worker.cases()))
def test_two_ranks_make_the_step_one_process_with_the_global_batch_makes(two_rank_steps, tmp_path, monkeypatch,
                                                                         case):
    """2 ranks x 32 == 1 process x 64 (the MLP, every loss), 2 x 8 == 1 x 16 (every architecture on images) when
    the networks have no batch norm; with batch norm per rank the replicas still train alike."""
    ranks = two_rank_result(two_rank_steps, case)
    if ranks[0]["batchnorm"] != "none":  # per-rank statistics: no one-process reference (docs/distributed.md)
        assert all(torch.isfinite(v).all() for v in ranks[0]["generator"].values() if v.is_floating_point())
        return
    loss = distributed_worker.cases()[case][1]
    # the same eps, per critic step: rank 0's 32 then rank 1's 32 (each rank drew its own)
    eps = [torch.cat([a, b]) for a, b in zip(ranks[0]["eps"], ranks[1]["eps"], strict=True)]
    if eps:
        assert not torch.equal(ranks[0]["eps"][0], ranks[1]["eps"][0])
    draw, left = replay(eps)
    monkeypatch.setattr(builtin_losses, "per_sample_uniform", draw)
    config = distributed_worker.config_for(case)
    trainer = api.make_trainer(config, REGISTRY, tmp_path / "one", progress=False, echo=lambda _: None)
    assert config.world_size == 1 and trainer.ranks == Ranks()
    before = {k: v.clone() for k, v in trainer.critic.state_dict().items()}
    trainer.train_step()
    assert not left  # every recorded eps was used: the same number of penalty draws
    for key, module in (("generator", trainer.generator), ("critic", trainer.critic)):
        for name, value in module.state_dict().items():
            torch.testing.assert_close(ranks[0][key][name], value, rtol=1e-5, atol=1e-6, msg=f"{case} {key} {name}")
    assert any(not torch.equal(before[k], v) for k, v in trainer.critic.state_dict().items())
    if loss == "wgan":  # weight clipping after each critic step, on every rank alike
        assert max(v.abs().max() for v in ranks[0]["critic"].values()) <= 0.01 + 1e-7


def test_per_rank_batch_norm_buffers_are_averaged_and_equal_on_every_rank_at_a_checkpoint(two_rank_steps):
    from ganzoo.runs.checkpoint import load_checkpoint

    ranks = [torch.load(two_rank_steps / "batchnorm" / f"rank{r}.pt") for r in (0, 1)]
    running = [k for k in ranks[0]["before"] if k.endswith("running_mean")]
    assert running and any(not torch.equal(ranks[0]["before"][k], ranks[1]["before"][k]) for k in running)
    _, state = load_checkpoint(two_rank_steps / "batchnorm" / "checkpoints")
    for name in ranks[0]["before"]:
        after = ranks[0]["after"][name]
        torch.testing.assert_close(ranks[1]["after"][name], after, rtol=0, atol=0)
        torch.testing.assert_close(state["generator"][name], after, rtol=0, atol=0)
        if after.is_floating_point():
            torch.testing.assert_close(after, (ranks[0]["before"][name] + ranks[1]["before"][name]) / 2)
    run = json.loads((two_rank_steps / "batchnorm" / "config.json").read_text())
    assert run["processes"]["batchnorm"] == "per rank (each rank's own batch statistics)"


# --- the command: `ganzoo train --nproc 2`, rank 0 alone writes; a killed rank; two "nodes" -----------------------

RUN = ["mlp", "wgan-gp", "-d", "gaussians8", "--steps", "10", "-b", "32", "--checkpoint-every", "5", "--device", "cpu",
       "--seed", "3", "-q", "--set", "arch.hidden=16", "--set", "arch.layers=2", "--set", "lr_schedule=constant"]


def ganzoo(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganzoo", *args], capture_output=True, text=True,
                          env={**worker_env(), **(env or {})}, timeout=timeout)


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    from ganzoo.runs.checkpoint import load_checkpoint

    step, state = load_checkpoint(run_dir / "checkpoints")
    assert step == 10
    return {**{f"G.{k}": v for k, v in state["generator"].items()}, **{f"D.{k}": v for k, v in state["critic"].items()}}


def steps_logged(run_dir: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def nproc_run(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """`ganzoo train --nproc 2 ...` to the end, registered in its own store: the reference of the tests below."""
    root = tmp_path_factory.mktemp("ddp-cli")
    done = ganzoo("train", "--nproc", "2", *RUN, "--out", str(root / "run"), "--name", "ring",
                  env={"GANZOO_HOME": str(root / "home")})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root / "run", root / "home", done


def test_nproc_trains_data_parallel_and_only_rank_0_writes_and_registers(nproc_run):
    run_dir, home, done = nproc_run
    assert done.stdout.count("done at step 10") == 1 and done.stdout.count("registered: ring:1") == 1
    run = json.loads((run_dir / "config.json").read_text())
    assert run["processes"] == {"world_size": 2, "global_batch": 32, "per_rank_batch": 16, "backend": "gloo",
                                "batchnorm": "none"}
    assert run["config"]["world_size"] == 2 and run["config"]["batch_size"] == 32
    assert steps_logged(run_dir) == list(range(1, 11))  # one writer: every step once
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("*.safetensors")) == \
        ["step_0000005.safetensors", "step_0000010.safetensors"]
    versions = list((home / "models" / "ring").iterdir())
    assert [v.name for v in versions] == ["1"]
    card = (versions[0] / "README.md").read_text()
    assert "**Processes**: 2, data-parallel (gloo): global batch 32 = 2 x 16 per process" in card
    assert "ganzoo train --nproc 2 mlp wgan-gp" in card


def test_resume_with_another_number_of_processes_is_refused(nproc_run):
    from ganzoo.errors import GanzooError

    with pytest.raises(GanzooError, match=r"trained by 2 process\(es\).*this is 1") as caught:
        api.resume(nproc_run[0], steps=20, progress=False, echo=lambda _: None)
    assert "--nproc 2 --resume" in caught.value.hint


def test_a_killed_rank_is_restarted_by_torchrun_from_the_last_checkpoint(nproc_run, tmp_path):
    """Rank 1 dies after step 7 (its last checkpoint: step 5); torchrun's agent restarts both ranks, which resume
    at step 5 and finish with exactly the weights of the run that never failed."""
    marker = tmp_path / "died"
    done = ganzoo("train", "--nproc", "2", "--max-restarts", "1", *RUN, "--out", str(tmp_path / "run"),
                  "--no-register", env={"GANZOO_FAULT_EXIT": f"1:7:{marker}"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert marker.exists()  # rank 1 did die
    assert steps_logged(tmp_path / "run") == list(range(1, 11))  # steps 6-7 of the dead group dropped, retrained
    for name, value in final_weights(nproc_run[0]).items():
        torch.testing.assert_close(final_weights(tmp_path / "run")[name], value, rtol=0, atol=0, msg=name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_nodes_over_127_0_0_1_train_one_run(nproc_run, tmp_path):
    """Two "machines" (two launchers, 1 process each) meet at a c10d rendezvous on 127.0.0.1: one started by
    `ganzoo train --nproc 1 --nnodes 2 --rdzv-endpoint`, the other by torchrun itself; they train the run that
    `--nproc 2` on one machine trains, to the same weights."""
    endpoint = f"127.0.0.1:{free_port()}"
    out = ["--out", str(tmp_path / "run"), "--no-register"]
    nodes = [subprocess.Popen([sys.executable, "-m", "ganzoo", "train", "--nproc", "1", "--nnodes", "2",
                               "--rdzv-endpoint", endpoint, *RUN, *out], env=worker_env(), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE),
             subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
                               "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "-m", "ganzoo", "train", *RUN,
                               *out], env=worker_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)]
    outputs = [node.communicate(timeout=240) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(o[0][-2000:] + o[1][-2000:] for o in outputs)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["processes"]["world_size"] == 2
    assert sum(o[0].count("done at step 10") for o in outputs) == 1  # rank 0, on whichever node it is
    for name, value in final_weights(nproc_run[0]).items():
        torch.testing.assert_close(final_weights(tmp_path / "run")[name], value, rtol=0, atol=0, msg=name)


# --- in one process: what the ranks draw, and what is refused ---------------------------------------------------


def test_each_rank_keeps_its_own_rows_of_every_epoch():
    """Every rank draws the same global batches (one data order) and keeps its rows: per epoch the ranks' shards
    are disjoint and together hold every sample."""
    from ganzoo.plugin.data import TensorData

    n, batch, world = 96, 32, 2
    seen = {}
    for rank in range(world):
        data, generator = TensorData("rows", torch.arange(n).float().unsqueeze(1), kind="points"), \
            torch.Generator().manual_seed(5)
        seen[rank] = [Ranks(rank=rank, world_size=world).local(data.batch(batch, generator)).flatten()
                      for _ in range(2 * n // batch)]  # two epochs
        assert all(len(b) == batch // world for b in seen[rank])
    per_epoch = n // batch
    for epoch in range(2):
        shards = [torch.cat(seen[r][epoch * per_epoch:(epoch + 1) * per_epoch]).tolist() for r in range(world)]
        assert not set(shards[0]) & set(shards[1])
        assert sorted(shards[0] + shards[1]) == list(range(n))
    assert seen[0][0].tolist() != seen[0][per_epoch].tolist()[:len(seen[0][0])]  # a new order each epoch


def test_a_global_batch_that_does_not_split_over_the_ranks_is_refused():
    from ganzoo.errors import ConfigError

    config = distributed_worker.config_for("wgan-gp")
    config.world_size, config.batch_size = 3, 64
    with pytest.raises(ConfigError, match="does not split over 3 processes"):
        config.validate()


def test_sync_batchnorm_on_cpu_is_refused_with_a_reason():
    from ganzoo.errors import ConfigError
    from ganzoo.train.distributed import check_sync_batchnorm

    check_sync_batchnorm(True, "cpu", Ranks())  # one process: nothing to synchronise, nothing refused
    with pytest.raises(ConfigError, match="SyncBatchNorm runs on GPUs only"):
        check_sync_batchnorm(True, "cpu", Ranks(rank=0, world_size=2))


def test_nproc_hands_every_process_the_same_command_without_the_launch_options():
    from ganzoo.cli.train import worker_args

    words = worker_args("mlp", "wgan", "gaussians8", 10, "cpu", ["arch.hidden=16"], Path("runs/x"), None, True,
                        {"batch_size": 32, "lr": 1e-4, "register": False, "sync_batchnorm": None, "seed": None})
    assert words == ["train", "mlp", "wgan", "--dataset", "gaussians8", "--steps", "10", "--batch-size", "32",
                     "--lr", "0.0001", "--device", "cpu", "--no-register", "--set", "arch.hidden=16",
                     "--out", "runs/x", "--quiet"]


@pytest.mark.parametrize(("args", "message"), [
    (["--nnodes", "2"], "--nnodes configure(s) the processes --nproc starts"),
    (["--nproc", "1", "--nnodes", "2"], "needs the address every machine meets at"),
    (["--nproc", "0"], "--nproc must be a whole number >= 1"),
    (["--nproc", "3", "-b", "64"], "batch size 64 does not split over 3 processes"),
])
def test_launch_options_that_cannot_work_are_refused_before_any_process_starts(args, message):
    from typer.testing import CliRunner

    from ganzoo.cli.app import app

    result = CliRunner().invoke(app, ["train", "mlp", "wgan-gp", "-d", "gaussians8", "--device", "cpu", *args])
    assert result.exit_code != 0
    assert message in str(result.output) + str(result.exception)
