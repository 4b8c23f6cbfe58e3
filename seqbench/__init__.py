"""seqbench: which sequence architecture for which sequence problem, at what cost."""

from seqbench.hookspecs import hookimpl
from seqbench.plugin_api import PLUGIN_API

__version__ = "0.1.0"
__all__ = ["PLUGIN_API", "__version__", "hookimpl"]
