"""``python -m cvprimer``: the command line (:func:`cvprimer.cli.main`), with Ctrl-C during its imports
answered by one line and status 130, as everywhere else in the command line."""

import sys

try:
    from cvprimer.cli import main
except KeyboardInterrupt:
    print("cvprimer: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
