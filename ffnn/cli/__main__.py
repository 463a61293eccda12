"""``python -m ffnn.cli``: the ``ffnn`` command."""

import sys

from ffnn.cli.app import main

sys.exit(main())
