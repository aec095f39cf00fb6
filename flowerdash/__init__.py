"""flowerdash: an explainability dashboard and engine for an Oxford Flowers102 classifier."""

__version__ = "0.1.0"
