"""`python -m ringc ...`: the `ringc` command, for where its script is not on PATH (a
notebook's kernel started from a virtual environment that is not activated)."""

from .cli import main

raise SystemExit(main())
