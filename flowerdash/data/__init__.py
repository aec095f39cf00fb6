"""Oxford Flowers102 on disk or through TFDS, image decoding, class names and augmentation."""
