"""`dnsviz grok` for Debian 12's dnsviz 0.9.4, whose version check imports
`pygraphviz.release`, a module Debian's pygraphviz 1.7 does not ship (so the
packaged `dnsviz grok` always exits with "pygraphviz is required"). Supplies
that one module, then runs grok unchanged: python3 dnsviz_grok.py ARGS..."""
import logging
import sys
import types

import pygraphviz

release = types.ModuleType("pygraphviz.release")
release.version = pygraphviz.__version__
sys.modules["pygraphviz.release"] = release
pygraphviz.release = release

logging.basicConfig(level=logging.WARNING, format="%(message)s")
from dnsviz.commands import grok  # noqa: E402

grok.main(["grok"] + sys.argv[1:])
