"""``python -m engine.cli``: the ``journey`` command."""

from engine.cli.main import main

raise SystemExit(main())
