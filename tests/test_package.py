"""The package's own surface: what `import ranker` makes reachable."""

from __future__ import annotations

import subprocess
import sys


def test_documented_submodules_are_reachable_after_a_plain_import():
    """The README writes ranker.synthetic.make_request and ranker.audit.AuditLog after `import
    ranker`; a fresh interpreter (this session has imported them already) must resolve both,
    and an unknown name must still raise AttributeError."""
    code = (
        "import ranker, sys\n"
        "assert 'ranker.audit' not in sys.modules\n"
        "print(ranker.synthetic.make_request.__name__, ranker.audit.AuditLog.__name__)\n"
        "try:\n"
        "    ranker.no_such_module\n"
        "except AttributeError as exc:\n"
        "    print('AttributeError', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "make_request AuditLog"
    assert out[1] == "AttributeError module 'ranker' has no attribute 'no_such_module'"
