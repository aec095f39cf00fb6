"""``python -m flowerdash``."""

import sys

from flowerdash.cli import main

sys.exit(main())
