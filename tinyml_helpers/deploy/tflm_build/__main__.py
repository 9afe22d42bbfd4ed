"""``python -m tinyml_helpers.deploy.tflm_build``: see :mod:`.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
