"""``python -m ganzoo.cli ...`` is the ``ganzoo`` command."""

from ganzoo.cli import main

main()
