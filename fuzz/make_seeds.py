#!/usr/bin/env python3
"""Writes the seed corpus fuzz/seeds/<target>/ from crates/protocol/tests/vectors/*.json.

Run from anywhere: python3 fuzz/make_seeds.py. It empties and rewrites each seeds/<target>/
directory, so the seeds always match the current vectors. One file per input, named after the
vector it came from.
"""

import base64
import json
import pathlib
import shutil

FUZZ = pathlib.Path(__file__).resolve().parent
VECTORS = FUZZ.parent / "crates" / "protocol" / "tests" / "vectors"
SEEDS = FUZZ / "seeds"


def load(name):
    with open(VECTORS / name, encoding="utf-8") as f:
        return json.load(f)


def dpp_key_field(text):
    """The base64 K: field of a DPP URI, or None."""
    if not text.startswith("DPP:"):
        return None
    for field in text[len("DPP:"):].split(";"):
        tag, _, value = field.partition(":")
        if tag == "K":
            return value
    return None


def seeds():
    """Yields (target, name, bytes)."""
    labels = load("labels.json")
    for kind in ("valid", "invalid"):
        for i, v in enumerate(labels[kind]):
            yield "label", f"{kind}-{i}", v["text"].encode("utf-8")
            key = dpp_key_field(v["text"].strip())
            if key is not None:
                try:
                    der = base64.b64decode(key + "=" * (-len(key) % 4), validate=True)
                except ValueError:
                    continue
                yield "dpp_spki", f"label-{kind}-{i}", der

    invites = load("invites.json")
    for kind in ("valid", "invalid"):
        for i, v in enumerate(invites[kind]):
            yield "invite", f"{kind}-{i}", v["text"].encode("utf-8")

    records = load("records.json")
    for i, r in enumerate(records["records"]):
        yield "record_canonical", f"record-{i}", bytes.fromhex(r["canonical"])
        yield "record_json", f"record-{i}", json.dumps(r["json"]).encode("utf-8")
        yield "record_json", f"record-{i}-pretty", json.dumps(r["json"], indent=2).encode("utf-8")


def main():
    targets = ["label", "invite", "record_canonical", "record_json", "dpp_spki"]
    for target in targets:
        directory = SEEDS / target
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
    counts = dict.fromkeys(targets, 0)
    for target, name, data in seeds():
        (SEEDS / target / name).write_bytes(data)
        counts[target] += 1
    for target in targets:
        print(f"{target}: {counts[target]} seeds")
        if counts[target] == 0:
            raise SystemExit(f"no seeds for {target}: have the vectors changed shape?")


if __name__ == "__main__":
    main()
