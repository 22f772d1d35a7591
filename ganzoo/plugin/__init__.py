"""The plugin layer: the hooks, the registry entries, the registry and its loading from entry points, and the
contracts a plugin implements (loss, data, metric). Everything here is about plugins; nothing here trains, stores,
evaluates or serves. Plugin authors import these names from :mod:`ganzoo` itself."""
