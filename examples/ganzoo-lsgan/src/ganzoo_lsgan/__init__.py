"""ganzoo-lsgan: a third-party ganzoo plugin.

Registers, through the ``ganzoo`` entry-point group (see pyproject.toml):
- the losses ``lsgan`` (Mao et al. 2017) and ``hinge`` (Lim & Ye 2017), in :mod:`ganzoo_lsgan.losses`;
- the relativistic average losses ``rasgan`` and ``ralsgan`` (Jolicoeur-Martineau 2018), whose generator step uses a
  real batch (``needs_real_in_generator_step``), in :mod:`ganzoo_lsgan.relativistic`;
- the architecture ``dcgan-sn``: ganzoo's DCGAN generator with a spectrally normalised critic (Miyato et al. 2018),
  in :mod:`ganzoo_lsgan.architectures`.
"""

__version__ = "0.1.0"
