"""Loading the compiled module. A missing or broken build is an error, never a silent fallback
to the (much slower) reference: a feed server must know which code served its users."""

from __future__ import annotations

from types import ModuleType

_module: ModuleType | None = None


def native_module() -> ModuleType:
    global _module  # a cache of an immutable import, not ranking state
    if _module is None:
        try:
            from . import _native
        except ImportError as exc:
            raise ImportError(
                f"ranker's native module (ranker._native) could not be imported: {exc}. The package was "
                "installed without its compiled extension or for another Python. Reinstall it "
                "(pip install --force-reinstall ranker, or pip install . from a checkout), or pass "
                "backend='reference' to run the pure-Python reference explicitly."
            ) from exc
        _module = _native
    return _module
