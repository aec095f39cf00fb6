"""``python -m flowerdash``."""

import sys

from flowerdash.cli.main import main

sys.exit(main())
