"""The run as one self-contained HTML file (issue 16): per case what was sent, what came back,
what was expected and what differed; filterable by result. No external style, script or font:
the file opens the same on a laptop without network and attached to a ticket."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from html import escape

from conformance.runner import CaseResult

__all__ = ["html_report"]

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1b1f24}
h1{font-size:1.4rem}.totals span{margin-right:1rem}
nav button{font:inherit;margin-right:.4rem;padding:.2rem .7rem;border:1px solid #8c959f;
background:#fff;border-radius:4px;cursor:pointer}nav button.on{background:#1b1f24;color:#fff}
details{border:1px solid #d0d7de;border-radius:4px;margin:.35rem 0;padding:.3rem .6rem}
summary{cursor:pointer}.tag{font-weight:600;display:inline-block;width:3.2rem}
.passed .tag{color:#1a7f37}.failed .tag{color:#cf222e}.skipped .tag{color:#9a6700}
.failed{border-color:#cf222e}ul.diffs{color:#cf222e}
pre{background:#f6f8fa;padding:.5rem;overflow:auto;white-space:pre-wrap;max-height:24rem}
dt{font-weight:600;margin-top:.4rem}body.only-failed .passed,body.only-failed .skipped,
body.only-passed .failed,body.only-passed .skipped,body.only-skipped .passed,
body.only-skipped .failed{display:none}
"""
# Filtering: a class on <body> hides the other results (the CSS above); nothing else runs.
_SCRIPT = """
document.querySelectorAll('nav button').forEach(function (b) {
  b.addEventListener('click', function () {
    document.body.className = b.dataset.show === 'all' ? '' : 'only-' + b.dataset.show;
    document.querySelectorAll('nav button').forEach(function (o) {
      o.classList.toggle('on', o === b); });
  });
});
"""


def html_report(results: Sequence[CaseResult], *, seconds: float, version: str) -> str:
    counts = {
        "passed": sum(1 for r in results if r.passed),
        "failed": sum(1 for r in results if r.failed),
        "skipped": sum(1 for r in results if r.skipped),
    }
    totals = "".join(f'<span class="{k}">{v} {k}</span>' for k, v in counts.items())
    buttons = "".join(
        f'<button data-show="{k}"{" class=on" if k == "all" else ""}>{k}</button>'
        for k in ("all", "failed", "passed", "skipped")
    )
    cases = "\n".join(_case(r) for r in results)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>CDR Gateway conformance report</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>CDR Gateway conformance report</h1>"
        f'<p class="totals">{len(results)} cases in {seconds:.1f} s (manifest '
        f"{escape(version)}): {totals}</p><nav>{buttons}</nav>\n{cases}\n"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def _case(result: CaseResult) -> str:
    case = result.case
    state = "skipped" if result.skipped else "passed" if result.passed else "failed"
    label = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}[state]
    diffs = "".join(f"<li>{escape(d)}</li>" for d in result.diffs)
    if result.skipped:
        diffs = f"<li>{escape(result.skipped)}</li>"
    expected = ", ".join(
        f"{f.name}={value!r}"
        for f in dataclasses.fields(case.expect)
        if (value := getattr(case.expect, f.name)) not in (None, ())
    )
    return (
        f'<details class="{state}"{" open" if state == "failed" else ""}><summary>'
        f'<span class="tag">{label}</span> <code>{escape(case.id)}</code> {escape(case.title)}'
        f"</summary>{'<ul class=diffs>' + diffs + '</ul>' if diffs else ''}<dl>"
        f"<dt>Clause</dt><dd>{escape(case.clause)}</dd>"
        f"<dt>Input</dt><dd><code>{escape(case.input)}</code></dd>"
        f"<dt>Expected</dt><dd><code>{escape(expected)}</code></dd>"
        f"<dt>Request</dt><dd><code>{escape(result.request or '-')}</code></dd>"
        f"<dt>Response</dt><dd><pre>{escape(result.response or '(none)')}</pre></dd>"
        f"</dl></details>"
    )
