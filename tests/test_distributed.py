"""Data-parallel training (issue 13) on CPU with gloo, in real torchrun process groups of 2 ranks.

The heavy tests of the distributed module live here, each one process-group launch: exactness of one generator step
for every loss (2 ranks x 32 == one process x 64), the `ganzoo train --nproc` CLI with rank-0-only writes and
resume, a rank killed mid-run and restarted by torchrun's elastic agent, and two "nodes" on 127.0.0.1.
"""

from __future__ import annotations

import os
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


@pytest.mark.parametrize("loss", LOSSES)
def test_two_ranks_of_32_make_the_step_one_process_of_64_makes(two_rank_steps, tmp_path, monkeypatch, loss):
    ranks = [torch.load(two_rank_steps / loss / f"rank{r}.pt") for r in (0, 1)]
    assert ranks[0]["world_size"] == 2
    for key in ("generator", "critic"):  # DDP keeps the replicas equal
        for name, value in ranks[0][key].items():
            torch.testing.assert_close(ranks[1][key][name], value, rtol=0, atol=0)
    # the same eps, per critic step: rank 0's 32 then rank 1's 32 (each rank drew its own)
    eps = [torch.cat([a, b]) for a, b in zip(ranks[0]["eps"], ranks[1]["eps"], strict=True)]
    if eps:
        assert not torch.equal(ranks[0]["eps"][0], ranks[1]["eps"][0])
    draw, left = replay(eps)
    monkeypatch.setattr(builtin_losses, "per_sample_uniform", draw)
    config = distributed_worker.config_for(loss)
    trainer = api.make_trainer(config, REGISTRY, tmp_path / "one", progress=False, echo=lambda _: None)
    assert config.world_size == 1 and trainer.ranks == Ranks()
    before = {k: v.clone() for k, v in trainer.critic.state_dict().items()}
    trainer.train_step()
    assert not left  # every recorded eps was used: the same number of penalty draws
    for key, module in (("generator", trainer.generator), ("critic", trainer.critic)):
        for name, value in module.state_dict().items():
            torch.testing.assert_close(ranks[0][key][name], value, rtol=1e-5, atol=1e-6, msg=f"{loss} {key} {name}")
    assert any(not torch.equal(before[k], v) for k, v in trainer.critic.state_dict().items())
    if loss == "wgan":  # weight clipping after each critic step, on every rank alike
        assert max(v.abs().max() for v in ranks[0]["critic"].values()) <= 0.01 + 1e-7


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
