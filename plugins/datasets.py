"""Built-in datasets (being written)."""
