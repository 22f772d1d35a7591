"""ganzoo's built-in plugins, installed as ``ganzoo_plugins`` and registered through the ``ganzoo`` entry-point group
exactly like a third-party package."""
