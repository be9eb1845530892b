"""`python -m rag.cli`: the `qa` command without its console script."""

import sys

from rag.cli.main import main

sys.exit(main())
