"""``python -m ofmu_cli ...``: the same as the ``ofmu`` console script."""

import sys

from ofmu_cli.main import main

sys.exit(main())
