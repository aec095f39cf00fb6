"""Training runs: configuration, presets, the background job, devices and several workers."""
