"""Explanation methods (Grad-CAM, Integrated Gradients), their faithfulness checks and overlays."""
