"""`python -m sipscope` runs the command line."""

from sipscope.cli import main

raise SystemExit(main())
