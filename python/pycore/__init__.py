"""pycore: a daemonless container engine for Python.

The public API is reached through submodules (`pycore.layer`, `pycore.image`, ...), imported
lazily so that `import pycore` stays cheap for the CLI's hot path.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
