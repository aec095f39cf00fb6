"""Predictions: one photo, a whole split (LiteRT on CPU), calibration and robustness."""
