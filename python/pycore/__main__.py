"""`python -m pycore` runs the CLI."""

import sys

from pycore.cli import main

sys.exit(main())
