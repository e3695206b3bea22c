import sys

from tiltbob.cli import main

sys.exit(main())
