"""An HL7 v2 reply (ACK, or RPI for an RQI^I01) judged against a case's expectations: one
sentence per difference.

IHE ITI TF-2 C.2.3: MSA-1 the acknowledgement code, MSA-2 the incoming MSH-10; C.2.4 and
docs/hl7-interface.md §5: ERR-3 the HL7 table 0357 code, ERR-2 the location (ERL). An AA carries
no ERR. The reply is decoded in the character set its own MSH-18 names, as a sender does.
"""

from __future__ import annotations

from conformance.cases import Hl7Expectation
from mapping.hl7v2.er7 import Message
from mapping.hl7v2.err import erl
from mapping.hl7v2.inbound_charset import codec_for, sniff_charset_field
from rights.errors import FramingError, ParseError

__all__ = ["judge_hl7_reply"]


def judge_hl7_reply(reply: bytes, expect: Hl7Expectation) -> list[str]:
    try:
        codec = codec_for(sniff_charset_field(reply))
    except FramingError:
        codec = "latin-1"  # an ACK in a set we do not know: its ASCII fields still read
    try:
        ack = Message.parse(reply.decode(codec, errors="replace"))
    except ParseError as exc:
        return [f"the reply is not an HL7 message ({exc.message}): {_excerpt(reply)}"]
    diffs: list[str] = []
    kind = ack.message_code if expect.reply == "ACK" else f"{ack.message_code}^{ack.trigger}"
    if kind != expect.reply:
        diffs.append(f"MSH-9: expected {expect.reply}, got {ack.msh.field(9) or '(empty)'}")
    msa = ack.first("MSA")
    if msa is None:
        return [*diffs, f"the reply has no MSA segment: {_excerpt(reply)}"]
    if msa.value(1) != expect.msa_1:
        diffs.append(f"MSA-1: expected {expect.msa_1}, got {msa.value(1) or '(empty)'}")
    if msa.value(2) != expect.msa_2:
        want, got = expect.msa_2 or "(empty)", msa.value(2) or "(empty)"
        diffs.append(f"MSA-2: expected {want} (the message's MSH-10), got {got}")
    err = ack.first("ERR")
    if expect.err_3 is None:
        if err is not None:
            diffs.append(f"ERR: none expected, got {err.text}")
        return diffs
    if err is None:
        at = f" at {expect.err_2}" if expect.err_2 else ""
        return [*diffs, f"ERR: expected ERR-3 {expect.err_3}{at}, got no ERR segment"]
    if err.value(3, 1) != expect.err_3:
        diffs.append(f"ERR-3: expected {expect.err_3}, got {err.value(3, 1) or '(empty)'}")
    if expect.err_2 is not None:
        want = erl(expect.err_2, ack.delimiters)
        if err.field(2) != want:
            diffs.append(
                f"ERR-2: expected {want} ({expect.err_2}), got {err.field(2) or '(empty)'}"
            )
    return diffs


def _excerpt(reply: bytes, limit: int = 80) -> str:
    text = reply[:limit].decode("latin-1").replace("\r", "<CR>")
    return repr(text + ("…" if len(reply) > limit else ""))
