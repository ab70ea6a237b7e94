"""``python -m devstack``: the offline stack's command line."""

from __future__ import annotations

import sys

from devstack.cli import main

sys.exit(main())
