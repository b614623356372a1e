"""``python -m ResponsePredictorLib.cli ...``: the ``responsepredictor`` command where its script is not
on the PATH (Slicer's Python, a background process started by the Slicer module)."""

import sys

from . import main

sys.exit(main())
