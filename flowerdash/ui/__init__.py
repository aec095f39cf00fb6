"""Streamlit-facing helpers (the only part of flowerdash that imports streamlit)."""
