"""The kit's progress bar: drawn in place on a terminal, absent from a log file."""

from __future__ import annotations

import io

from cdr.conformance_commands import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_the_bar_advance_and_the_failures_counted() -> None:
    screen = Terminal()
    progress = Progress(4, screen)
    progress.advance(failed=False)
    progress.advance(failed=True)
    assert screen.getvalue().endswith("\r[" + "=" * 15 + " " * 15 + "] 2/4, 1 failed")
    progress.clear()
    assert screen.getvalue().endswith("\r\x1b[2K")


def test_a_log_file_gets_no_bar() -> None:
    log = io.StringIO()
    progress = Progress(4, log)
    progress.advance(failed=True)
    progress.clear()
    assert log.getvalue() == ""
