"""``python -m labelwise`` runs the command line."""

import sys

from labelwise.cli.main import main

sys.exit(main())
