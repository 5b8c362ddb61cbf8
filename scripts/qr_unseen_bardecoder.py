#!/usr/bin/env python3
"""Extracts bardecoder's test images as a second scanner test set never used for tuning.

Usage: scripts/qr_unseen_bardecoder.py BARDECODER_GIT_DIR OUT_DIR

BARDECODER_GIT_DIR is a clone of https://github.com/piderman314/bardecoder (a pure-Rust QR
decoder; a work tree or a bare repository: files are read from HEAD with `git show`). The
expected texts are taken from its `tests/image_tests.rs`: every `test_image` or
`test_image_with_info` call gives an image path and the text(s) bardecoder must read; the first
text is written as OUT_DIR/bardecoder/NAME.txt beside NAME.<ext> (the benchmark counts an image
read when any code read equals it). Images that no test names (no known text) and tests that
are commented out are left out. bardecoder and its test images are MIT-licensed.
"""
import os
import re
import subprocess
import sys


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], capture_output=True, check=True).stdout


# `String::from("...")` with Rust's escapes; a named `let` text is resolved below
CALL = re.compile(r'test_image(?:_with_info)?\(\s*"([^"]+)",\s*vec!\[\s*(?:\(\s*)?(?:Ok\()?\s*(?:\(\s*)?'
                  r'(?:String::from\(\s*"((?:[^"\\]|\\.)*)"\s*,?\s*\)|(\w+)(?:\.clone\(\))?)', re.S)
LET = re.compile(r'let\s+(\w+)\s*=\s*String::from\("((?:[^"\\]|\\.)*)"\);', re.S)


def unescape(s):
    return s.replace("\\n", "\n").replace("\\'", "'").replace('\\"', '"').replace("\\\\", "\\")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    repo, out = sys.argv[1], os.path.join(sys.argv[2], "bardecoder")
    os.makedirs(out, exist_ok=True)
    src = git(repo, "show", "HEAD:tests/image_tests.rs").decode()
    # commented-out tests are not tests
    src = "\n".join(l for l in src.splitlines() if not l.lstrip().startswith("//"))
    names = {m.group(1): unescape(m.group(2)) for m in LET.finditer(src)}
    kept = {}
    for m in CALL.finditer(src):
        path, literal, var = m.group(1), m.group(2), m.group(3)
        text = unescape(literal) if literal is not None else names.get(var)
        if text is None or path in kept:
            continue
        kept[path] = text
    for path, text in sorted(kept.items()):
        name = path.replace("tests/images/", "").replace("/", "-")
        with open(os.path.join(out, name), "wb") as f:
            f.write(git(repo, "show", f"HEAD:{path}"))
        stem = name.rsplit(".", 1)[0]
        with open(os.path.join(out, stem + ".txt"), "w", encoding="utf-8") as f:
            f.write(text)
    print(f"{len(kept)} images with known text in {out}")


if __name__ == "__main__":
    main()
