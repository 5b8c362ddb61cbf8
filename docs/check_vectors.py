#!/usr/bin/env python3
"""An independent check of Vouch's test vectors, following docs/PROTOCOL.md.

It shares no code with the Rust crate. It parses every label and invite in the vector files
(and refuses the invalid ones with the documented error code), rebuilds every canonical scan
record and enrollment body from its fields, recomputes hashes and key ids, verifies every
signature with OpenSSL (through the `cryptography` package) and re-creates each reference
signature with RFC 6979 deterministic ECDSA from the documented test-key derivation.

Usage: python3 docs/check_vectors.py [VECTOR_DIR]   (default: crates/protocol/tests/vectors)
Needs: Python 3.9+ and `pip install cryptography` (RFC 6979 signing needs cryptography 44 or
newer on OpenSSL 3.2 or newer). Exits non-zero at the first disagreement.
"""
import hashlib
import json
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

LABEL_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-.:"
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Unicode White_Space (what Rust's char::is_whitespace and str::trim use).
WHITE_SPACE = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {
    chr(c) for c in range(0x2000, 0x200B)
}
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
SCAN_PREFIX = b"vouch scan record v1\x00"
ENROLL_PREFIX = b"vouch enroll v1\x00"
CHAIN_PREFIX = b"vouch record chain v1\x00"


class Refused(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


def sha256(data):
    return hashlib.sha256(data).digest()


# ---- check characters ----------------------------------------------------------------------

def fold39(text):
    acc = 0
    for ch in text:
        acc = (2 * acc + LABEL_ALPHABET.index(ch)) % 39
    return acc


def label_check(body):
    return LABEL_ALPHABET[(-2 * fold39(body)) % 39]


def times_alpha(x):
    x <<= 1
    return x ^ 0b100101 if x & 0b100000 else x  # reduce by x^5 + x^2 + 1


def fold32(text):
    acc = 0
    for ch in text:
        acc = times_alpha(acc) ^ BASE32.index(ch)
    return acc


def group_check(group):
    return BASE32[times_alpha(fold32(group))]


# ---- encodings -----------------------------------------------------------------------------

def b32_encode(data):
    bits = "".join(f"{b:08b}" for b in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(BASE32[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))


def b32_decode_key(text):
    """53 base32 characters -> 33 bytes; the one unused trailing bit must be 0."""
    if any(c not in BASE32 for c in text):
        raise Refused("bad_encoding")
    bits = "".join(f"{BASE32.index(c):05b}" for c in text)
    if bits[264:] != "0":
        raise Refused("bad_encoding")
    return bytes(int(bits[i:i + 8], 2) for i in range(0, 264, 8))


def b64_decode_strict(text):
    """RFC 4648 base64 (standard alphabet), canonical: padded, or unpadded as a fallback."""
    def decode(body, pad):
        if any(c not in BASE64 for c in body):
            raise Refused("bad_encoding")
        bits = "".join(f"{BASE64.index(c):06b}" for c in body)
        whole = len(bits) // 8 * 8
        if (len(body) % 4 == 1) or "1" in bits[whole:]:
            raise Refused("bad_encoding")
        if pad is not None and pad != (-len(body)) % 4:
            raise Refused("bad_encoding")
        return bytes(int(bits[i:i + 8], 2) for i in range(0, whole, 8))

    stripped = text.rstrip("=")
    if len(text) % 4 == 0 and len(text) - len(stripped) <= 2:
        try:
            return decode(stripped, len(text) - len(stripped))
        except Refused:
            pass
    return decode(text, None)


def public_key(sec1):
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sec1)
    except ValueError:
        raise Refused("invalid_key")


def compressed(key):
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)


def fingerprint(sec1_compressed):
    text = b32_encode(sha256(sec1_compressed)[:10])
    return "-".join(text[i:i + 4] for i in range(0, 16, 4))


# ---- labels --------------------------------------------------------------------------------

def check_field(text, maximum, allowed):
    if not 1 <= len(text) <= maximum:
        raise Refused("bad_length")
    if any(c not in allowed for c in text):
        raise Refused("bad_character")


def check_serial(text, allowed):
    check_field(text, 32, allowed)
    if set(text) == {"."}:
        raise Refused("only_dots")


FIELD_CHARS = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-.")
SERIAL_CHARS = FIELD_CHARS | set("abcdefghijklmnopqrstuvwxyz_")


def trim(text):
    start, end = 0, len(text)
    while start < end and text[start] in WHITE_SPACE:
        start += 1
    while end > start and text[end - 1] in WHITE_SPACE:
        end -= 1
    return text[start:end]


def check_version(token):
    digits = token[5:]
    if not digits or not all(c in "0123456789" for c in digits) or digits[0] == "0":
        raise Refused("not_a_label")
    if int(digits) != 1:
        raise Refused("unknown_version")


def parse_label(text):
    text = trim(text)
    if not text:
        raise Refused("empty")
    if len(text) > 512:
        raise Refused("too_long")
    if text.startswith("DPP:"):
        return parse_dpp(text)
    if text[:5].upper() != "VOUCH":  # ASCII upper-casing only; Python's upper() is fine here
        raise Refused("not_a_label")
    if any(c in WHITE_SPACE for c in text):
        return dict(parse_compact(manual_to_compact(text)), format="manual")
    return parse_compact(text)


def parse_compact(text):
    if any(c not in LABEL_ALPHABET for c in text):
        raise Refused("bad_character")
    check_version(text.split(":")[0])
    if len(text) < 3 or text[-2] != ":":
        raise Refused("wrong_field_count")
    fields = text[:-2].split(":")
    if len(fields) != 4:
        raise Refused("wrong_field_count")
    _, model, serial, key = fields
    check_field(model, 24, FIELD_CHARS)
    check_serial(serial, FIELD_CHARS)
    if len(key) != 53:
        raise Refused("bad_length")
    if fold39(text) != 0:
        raise Refused("check_mismatch")
    sec1 = b32_decode_key(key)
    public_key(sec1)
    return {"format": "compact", "model": model, "serial": serial, "public_key": sec1}


def manual_to_compact(text):
    upper = "".join(c.upper() if c.isascii() else c for c in text)
    previous_space = False
    for c in upper:
        if c in WHITE_SPACE and (c != " " or previous_space):
            raise Refused("bad_character")
        previous_space = c == " "
    tokens = upper.split(" ")
    check_version(tokens[0])
    if len(tokens) != 18:
        raise Refused("wrong_field_count")
    key = ""
    for index, group in enumerate(tokens[3:17]):
        data_len = min(4, 53 - 4 * index)
        if len(group) != data_len + 1:
            raise Refused("bad_length")
        if not group.isascii():
            raise Refused("bad_character")
        if any(c not in BASE32 for c in group) or fold32(group) != 0:
            raise Refused("group_check_mismatch")
        key += group[:data_len]
    if len(tokens[17]) != 1:
        raise Refused("bad_length")
    return ":".join(tokens[0:3] + [key, tokens[17]])


def parse_dpp(text):
    if not text.endswith(";;"):
        raise Refused("invalid_dpp")
    serial = key = None
    for field in text[4:-2].split(";"):
        if ":" not in field:
            raise Refused("invalid_dpp")
        tag, value = field.split(":", 1)
        if tag == "I":
            serial = value
        elif tag == "K":
            key = value
        elif not tag or not all("A" <= c <= "Z" for c in tag):
            raise Refused("invalid_dpp")
    if serial is None or key is None:
        raise Refused("invalid_dpp")
    der = b64_decode_strict(key)
    check_serial(serial, SERIAL_CHARS)
    try:
        spki = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        raise Refused("invalid_key")
    if not isinstance(spki, ec.EllipticCurvePublicKey) or spki.curve.name != "secp256r1":
        raise Refused("invalid_key")
    return {"format": "dpp", "model": None, "serial": serial, "public_key": compressed(spki)}


def to_compact(model, serial, sec1):
    body = f"VOUCH1:{model}:{serial}:{b32_encode(sec1)}:"
    return body + label_check(body)


def to_manual(model, serial, sec1):
    key = b32_encode(sec1)
    groups = [key[i:i + 4] for i in range(0, 53, 4)]
    check = to_compact(model, serial, sec1)[-1]
    return " ".join(["VOUCH1", model, serial] + [g + group_check(g) for g in groups] + [check])


# ---- signatures ----------------------------------------------------------------------------

def verify(sec1, message, signature):
    if len(signature) != 64:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < P256_N and 0 < s < P256_N):
        return False
    try:
        public_key(sec1).verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def test_key(name):
    scalar = int.from_bytes(sha256(f"vouch test key: {name}".encode()), "big")
    return ec.derive_private_key(scalar, ec.SECP256R1())


def sign_rfc6979(private_key, message):
    der = private_key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


KNOWN_KEYS = {}
for _name in ("device 1", "device 2", "device 3", "device 4", "technician 1"):
    _k = test_key(_name)
    KNOWN_KEYS[compressed(_k.public_key())] = _k


# ---- canonical encoding --------------------------------------------------------------------

def enc_str(text):
    raw = text.encode("utf-8")
    return len(raw).to_bytes(2, "big") + raw


def enc_opt_str(text):
    return b"\x00" if text is None else b"\x01" + enc_str(text)


def record_canonical(j):
    return (bytes([j["v"]]) + bytes.fromhex(j["record_id"]) + bytes.fromhex(j["installer"])
            + j["sequence"].to_bytes(8, "big") + bytes.fromhex(j["prev_hash"])
            + j["scanned_at_ms"].to_bytes(8, "big") + enc_str(j["label_text"])
            + enc_opt_str(j.get("model")) + enc_str(j["serial"]) + bytes.fromhex(j["device_key"])
            + enc_str(j["site"]) + enc_opt_str(j.get("note")))


def enrollment_body(mode_byte, nonce, serial, csr_der, channel_binding):
    cb = b"\x00" if channel_binding is None else bytes([32]) + channel_binding
    return bytes([mode_byte]) + nonce + enc_str(serial) + sha256(csr_der) + cb


# ---- invites -------------------------------------------------------------------------------

def parse_invite(text):
    text = trim(text)
    if not text.startswith("VOUCH-INVITE:"):
        raise Refused("invalid_invite")
    parts = text[len("VOUCH-INVITE:"):].split(":", 3)
    if parts[0] != "1":
        raise Refused("unknown_version")
    if len(parts) != 4:
        raise Refused("invalid_invite")
    _, ca, code, url = parts
    if len(ca) != 64:
        raise Refused("bad_length")
    if any(c not in "0123456789abcdefABCDEF" for c in ca):
        raise Refused("bad_encoding")
    if not url.startswith("https://") or len(url) <= 8 or len(url.encode()) > 512:
        raise Refused("invalid_invite")
    if any(c in WHITE_SPACE or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in url):
        raise Refused("invalid_invite")
    if not 16 <= len(code) <= 64 or any(c not in BASE32 for c in code):
        raise Refused("invalid_invite")
    return {"ca_sha256": ca.lower(), "code": code, "server_url": url}


# ---- the checks ----------------------------------------------------------------------------

def main():
    if not __debug__:
        sys.exit("run without -O: the checks are assert statements")
    default = Path(__file__).resolve().parent.parent / "crates" / "protocol" / "tests" / "vectors"
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    load = lambda name: json.loads((folder / name).read_text(encoding="utf-8"))
    counts = {}

    def ok(what):
        counts[what] = counts.get(what, 0) + 1

    labels = load("labels.json")
    for v in labels["valid"]:
        got = parse_label(v["text"])
        assert got["format"] == v["format"], v
        assert got["model"] == v["model"] and got["serial"] == v["serial"], v
        assert got["public_key"].hex() == v["public_key"], v
        assert fingerprint(got["public_key"]) == v["fingerprint"], v
        if v["format"] == "compact":
            assert to_compact(got["model"], got["serial"], got["public_key"]) == v["text"]
        if v["format"] == "manual" and v["text"] == v["text"].strip():
            assert to_manual(got["model"], got["serial"], got["public_key"]) == v["text"]
        ok("valid labels")
    for v in labels["invalid"]:
        try:
            got = parse_label(v["text"])
        except Refused as refused:
            assert refused.code == v["error"], (v, refused.code)
            ok("invalid labels")
            continue
        raise AssertionError(f"accepted {v}")

    sigs = load("signatures.json")
    high_s = 0
    for v in sigs["vectors"]:
        key, message, sig = (bytes.fromhex(v[k]) for k in ("public_key", "message", "signature"))
        assert verify(key, message, sig) == v["valid"], v["name"]
        if v["valid"]:
            assert sign_rfc6979(KNOWN_KEYS[key], message) == sig, v["name"]
            high_s += int.from_bytes(sig[32:], "big") > P256_N // 2
            ok("valid signatures (verified and re-created with RFC 6979)")
        else:
            ok("invalid signatures refused")

    records = load("records.json")
    installer = bytes.fromhex(records["installer_public_key"])
    heads = []
    for r in records["records"]:
        j = r["json"]
        canonical = record_canonical(j)
        assert canonical.hex() == r["canonical"]
        assert (SCAN_PREFIX + canonical).hex() == r["signed_message"]
        assert sha256(CHAIN_PREFIX + canonical).hex() == r["hash"]
        assert sha256(installer).hex() == j["installer"]
        label = parse_label(j["label_text"])
        assert (label["model"], label["serial"], label["public_key"].hex()) == (
            j["model"], j["serial"], j["device_key"])
        sig = bytes.fromhex(j["signature"])
        assert verify(installer, SCAN_PREFIX + canonical, sig)
        assert sign_rfc6979(KNOWN_KEYS[installer], SCAN_PREFIX + canonical) == sig
        heads.append((j["sequence"], j["prev_hash"], r["hash"]))
        ok("records")
    for check in records["chain_checks"]:
        next_sequence, last_hash, error = 1, "00" * 32, None
        for index in check["order"]:
            sequence, prev_hash, this_hash = heads[index]
            if sequence < next_sequence:
                error = "sequence_replay"
            elif sequence > next_sequence:
                error = "sequence_gap"
            elif prev_hash != last_hash:
                error = "chain_broken"
            if error:
                break
            next_sequence, last_hash = sequence + 1, this_hash
        assert error == check["error"], check
        ok("chain checks")

    e = load("enrollment.json")
    body = enrollment_body(e["mode_byte"], bytes.fromhex(e["nonce"]), e["serial"],
                           bytes.fromhex(e["csr_der"]), bytes.fromhex(e["channel_binding"]))
    assert sha256(bytes.fromhex(e["csr_der"])).hex() == e["csr_sha256"]
    assert body.hex() == e["body"] and (ENROLL_PREFIX + body).hex() == e["signed_message"]
    key, sig = bytes.fromhex(e["public_key"]), bytes.fromhex(e["signature"])
    assert verify(key, ENROLL_PREFIX + body, sig)
    assert sign_rfc6979(KNOWN_KEYS[key], ENROLL_PREFIX + body) == sig
    ok("enrollment")

    invites = load("invites.json")
    for v in invites["valid"]:
        got = parse_invite(v["text"])
        assert got == {k: v[k] for k in ("ca_sha256", "code", "server_url")}
        assert f"VOUCH-INVITE:1:{got['ca_sha256']}:{got['code']}:{got['server_url']}" == v["text"]
        ok("valid invites")
    for v in invites["invalid"]:
        try:
            parse_invite(v["text"])
        except Refused as refused:
            assert refused.code == v["error"], (v, refused.code)
            ok("invalid invites")
            continue
        raise AssertionError(f"accepted {v}")

    for what, n in counts.items():
        print(f"ok  {n:3}  {what}")
    print(f"note: {high_s} of the valid reference signatures have s > n/2 (not low-S normalised)")


if __name__ == "__main__":
    main()
