"""seqbench: which sequence architecture for which sequence problem, at what cost."""

from seqbench.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]
