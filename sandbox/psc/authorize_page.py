"""The page that stands in for the e-CPS approval: the professional picks who they are among
the sandbox's synthetic professionals and approves (or refuses) the login."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from sandbox.psc.people import Professional

__all__ = ["approval_page"]

# The authorization request's parameters carried through the approval form.
_CARRIED = (
    "client_id",
    "redirect_uri",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "scope",
)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;background:#f4f6fa;color:#1b1b1b}
main{max-width:36rem;margin:2rem auto;background:#fff;padding:1.5rem;border-radius:8px;
border:1px solid #ccd}
h1{font-size:1.4rem;color:#000091}
fieldset{border:0;padding:0}
label{display:block;padding:.6rem;border:1px solid #99a;border-radius:6px;margin:.4rem 0}
button{font:inherit;padding:.6rem 1.2rem;margin:.8rem .5rem 0 0;border-radius:6px;
border:2px solid #000091;background:#000091;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#000091}
:focus-visible{outline:3px solid #0a76f6;outline-offset:2px}
"""


def approval_page(params: Mapping[str, str], people: Sequence[Professional]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(params.get(name, ""))}">'
        for name in _CARRIED
    )
    choices = "".join(
        f'<label><input type="radio" name="professional" value="{p.national_id}"'
        f"{' checked' if i == 0 else ''}> {escape(p.given_name)} {escape(p.family_name)}"
        f" — {escape(p.profession_label)} (RPPS {p.rpps})</label>"
        for i, p in enumerate(people)
    )
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pro Santé Connect (bac à sable) — approbation e-CPS</title>
<style>{_STYLE}</style></head>
<body><main>
<h1>Pro Santé Connect — bac à sable</h1>
<p>Simulation de l'approbation dans l'application e-CPS. Choisissez le professionnel de test
qui se connecte.</p>
<form method="post" action="auth/approve">
{hidden}
<fieldset><legend>Professionnel de santé</legend>{choices}</fieldset>
<button type="submit" name="decision" value="approve">Approuver la connexion</button>
<button type="submit" name="decision" value="refuse" class="secondary">Refuser</button>
</form>
</main></body></html>"""
