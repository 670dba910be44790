"""``python -m runql``: the runql command."""

from runql.cli import main

raise SystemExit(main())
