"""The command line's exit codes and its one JSON printer, shared by every command module.

Exit codes: 0 done; 1 the regimes could not answer (every regime failed) or a runtime failure;
2 bad input or configuration (the message names the field and the check that failed).
Kept apart from ``cdr.cli`` so that the command modules, which the CLI imports, never import
the CLI back.
"""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["EXIT_FAILED", "EXIT_INPUT", "EXIT_OK", "print_json"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2


def print_json(data: Any) -> None:
    """``data`` on standard output as indented UTF-8 JSON, one trailing newline."""
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
