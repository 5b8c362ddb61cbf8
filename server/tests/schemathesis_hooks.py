"""Schemathesis hooks for server/tests/openapi_fuzz.rs (loaded through SCHEMATHESIS_HOOKS).

Schemathesis generates JSON, form and text bodies by itself, but has no generator for
`application/pkcs10`, the CSR body of the EST enrollments (RFC 7030; docs/PROTOCOL.md 12): without
one it cannot test those two operations at all. A CSR body is base64 text of DER, white space
allowed anywhere, so the bodies drawn here are base64 of arbitrary bytes (a DER SEQUENCE header
now and then, so that the decoder goes past its first byte), base64 broken by white space, and
arbitrary bytes that are not base64 at all. None is a CSR whose key was vouched, so each must be
refused with an answer the description allows (400 bad_csr mostly), never a 5xx.
"""

import base64

import schemathesis
from hypothesis import strategies as st

_der = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=300).map(lambda b: b"\x30\x82" + len(b).to_bytes(2, "big") + b),
)
_base64 = _der.map(base64.b64encode)
_spaced = st.tuples(_base64, st.sampled_from([b"\n", b"\r\n", b" ", b"\t"])).map(
    lambda pair: pair[1].join(pair[0][i : i + 64] for i in range(0, len(pair[0]), 64))
)

schemathesis.openapi.media_type(
    "application/pkcs10", st.one_of(_base64, _spaced, st.binary(max_size=300))
)
