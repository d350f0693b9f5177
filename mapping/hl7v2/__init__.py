"""HL7 v2 mapping (pure): ER7 parsing and escaping, ADT to a rights query, rights to PAM FR
result segments, ACK/ERR and MSH building."""
