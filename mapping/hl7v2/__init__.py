"""HL7 v2 mapping (pure): ER7 parsing and escaping, ADT to a rights query, rights to PAM FR
result segments, ACK/ERR and MSH building. The names below are the entry points."""

from mapping.hl7v2.adt_to_query import Admission, admission_from_message
from mapping.hl7v2.er7 import Message
from mapping.hl7v2.err import err_segment
from mapping.hl7v2.msh import reply_msh
from mapping.hl7v2.pam_fr_check import pam_fr_violations
from mapping.hl7v2.rights_to_in1 import insurance_segments, rights_update_message

__all__ = [
    "Admission",
    "Message",
    "admission_from_message",
    "err_segment",
    "insurance_segments",
    "pam_fr_violations",
    "reply_msh",
    "rights_update_message",
]
