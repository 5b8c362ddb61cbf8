#!/usr/bin/env python3
"""Extracts jsQR's end-to-end test images as a scanner test set never used for tuning.

Usage: scripts/qr_unseen.py JSQR_GIT_DIR OUT_DIR

JSQR_GIT_DIR is a clone of https://github.com/cozmo/jsQR (a work tree or a bare repository);
the images are read from its HEAD with `git show`, so a bare mirror works. OUT_DIR/jsqr/ receives
NAME.png and NAME.txt (the text jsQR decoded, its `data` field) for every test case whose
`output.json` is not null. Cases jsQR could not read have no known text and are left out.
jsQR and its test images are Apache-2.0.
"""
import json
import os
import subprocess
import sys


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], capture_output=True, check=True).stdout


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    repo, out = sys.argv[1], os.path.join(sys.argv[2], "jsqr")
    os.makedirs(out, exist_ok=True)
    listing = git(repo, "ls-tree", "--name-only", "HEAD", "tests/end-to-end/").decode().split()
    kept = skipped = 0
    for path in listing:
        name = path.rsplit("/", 1)[-1]
        try:
            expected = json.loads(git(repo, "show", f"HEAD:{path}/output.json"))
            image = git(repo, "show", f"HEAD:{path}/input.png")
        except subprocess.CalledProcessError:
            continue  # not a test case directory
        if expected is None:
            skipped += 1
            continue
        with open(os.path.join(out, f"{name}.png"), "wb") as f:
            f.write(image)
        with open(os.path.join(out, f"{name}.txt"), "w", encoding="utf-8") as f:
            f.write(expected["data"])
        kept += 1
    print(f"{kept} images with text in {out}; {skipped} that jsQR could not read left out")


if __name__ == "__main__":
    main()
