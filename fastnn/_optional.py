"""Optional dependencies, imported where they are used: a clear ImportError naming the extra to install."""

import importlib


def require(module, extra, purpose):
    """The module, or ImportError saying which fastnn extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{purpose} needs the {module} package: pip install 'fastnn[{extra}]'") from exc
