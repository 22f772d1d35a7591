"""Built-in experiments: the WGAN and WGAN-GP papers' claims, one module each, each registered through the
``ganzoo`` entry-point group (``register_experiments``) like any third-party plugin. docs/results.md shows what
each one gave on a 2-core CPU and the published numbers to compare with."""
