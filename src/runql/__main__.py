"""``python -m runql``: the runql command."""

from runql.cli.app import main

raise SystemExit(main())
