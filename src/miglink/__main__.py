"""``python -m miglink``: the ``miglink`` command (for environments without the console script)."""

from miglink.cli.main import main

raise SystemExit(main())
