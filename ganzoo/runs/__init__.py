"""The run layer: a run folder and its files (config.json with the run's settings, metrics.jsonl, checkpoints,
results.json, pictures), crash-safe file writing, the latent noise, the device choice, and networks rebuilt from a
description through the registry. train, eval and store all read and write run folders through this layer."""
