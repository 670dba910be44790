"""``python -m runql``: the runql command."""

from .cli import main

raise SystemExit(main())
