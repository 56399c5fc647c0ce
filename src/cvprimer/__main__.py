import sys

from cvprimer.cli import main

sys.exit(main())
