"""``python -m hf_transfer …`` is ``hf-transfer …``; under accelerate: ``accelerate launch -m hf_transfer train R``."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
