"""``python -m flowerdash``: one module per command."""
