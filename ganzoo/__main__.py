"""``python -m ganzoo ...`` (what ``torchrun ... -m ganzoo train`` runs) is the ``ganzoo`` command."""

from ganzoo.cli import main

main()
