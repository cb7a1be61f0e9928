"""``python -m ppgan_fom.convert SRC.pth.tar DST.pdparams [--config vox-256]``."""

import sys

from ppgan_fom.cli.convert import convert_main

if __name__ == "__main__":
    sys.exit(convert_main())
