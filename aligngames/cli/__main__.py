"""``python -m aligngames.cli``: the same as the ``aligngames`` command."""

import sys

from aligngames.cli import main

sys.exit(main())
