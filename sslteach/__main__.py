"""``python -m sslteach ...``: see :mod:`sslteach.cli`."""
from .cli import main

raise SystemExit(main())
