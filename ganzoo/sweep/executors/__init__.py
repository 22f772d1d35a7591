"""The built-in executors: :mod:`~ganzoo.sweep.executors.local` (worker processes on this machine) and
:mod:`~ganzoo.sweep.executors.ray` (a Ray cluster). Both are registered by ``ganzoo_plugins.executors`` through the
``register_executors`` hook, like any third-party executor."""
