"""Built-in architectures (being written)."""
