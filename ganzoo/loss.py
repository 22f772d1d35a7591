"""Kept so that ``from ganzoo.loss import ComposedLoss`` (ganzoo 0.1) keeps working: the loss contract now lives in
:mod:`ganzoo.plugin.loss`, and plugin authors import it from :mod:`ganzoo`."""

from ganzoo.plugin.loss import ComposedLoss, Constraint, CriticStep, GANLoss, Objective

__all__ = ["ComposedLoss", "Constraint", "CriticStep", "GANLoss", "Objective"]
