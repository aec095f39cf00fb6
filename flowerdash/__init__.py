"""flowerdash: an explainability dashboard and engine for an Oxford Flowers102 classifier."""

import os

__version__ = "0.1.0"

# TensorFlow switches its oneDNN CPU kernels on by default only on CPUs with AVX-512 VNNI/BF16
# or AMX. Elsewhere, such as AVX2-only CPUs, they are off although they speed up MobileNetV2's
# training steps and forward + backward passes (docs/PERFORMANCE.md, section onednn). This must
# happen before TensorFlow is first imported, hence here; TF_ENABLE_ONEDNN_OPTS=0 in the
# environment still turns them off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
