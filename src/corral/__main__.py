"""``python -m corral``."""

import sys

from .cli import main

sys.exit(main())
