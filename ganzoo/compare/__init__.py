"""Comparisons of trained models and sweeps (``ganzoo compare``): tables over seeds, rankings, figures, reports."""
