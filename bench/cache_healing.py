"""The cache reproducers of issue 13, run against whichever labelwise is on the path: one line per case saying what
happened (the vectors or answers the run got, compared with freshly computed ones, or the exception it died of).

    PYTHONPATH=src python bench/cache_healing.py                 # this checkout
    PYTHONPATH=/path/to/other/checkout/src python bench/cache_healing.py

Only public names are used (``EmbeddingCache``, ``TextEncoder``, ``ResponseCache``), with a stand-in embedding
model (a text's vector is a function of the text) so that no model is loaded. Read-only cases run where the
kernel refuses writes (as the ``nobody`` user when run as root: ``tests/caches.py``).
"""

from __future__ import annotations

import gc
import os
import shutil
import sqlite3
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.caches import deleted_without_pause, without_write_access  # noqa: E402

from labelwise.features import EmbeddingCache, TextEncoder  # noqa: E402
from labelwise.llm.cache import ResponseCache  # noqa: E402

TEXTS = [f"text number {i}" for i in range(200)]


def model(texts: list[str]) -> np.ndarray:
    """The stand-in model: 3 values per text, L2-normalised."""
    out = np.array([[len(t), sum(map(ord, t)) % 97, 1.0] for t in texts], dtype=np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def encoder(folder: Path, calls: list[int], batch_size: int = 64) -> TextEncoder:
    enc = TextEncoder(cache_dir=folder, batch_size=batch_size)
    enc._load = lambda: setattr(enc, "_dim", 3)
    enc._token_lengths = lambda texts: np.array([len(t) for t in texts])

    def embed(batch):
        calls.append(len(batch))
        return model(batch)

    enc._embed_batch = embed
    return enc


def filled(folder: Path) -> Path:
    """A cache in ``folder`` holding every text, its writer gone (so the file alone holds everything)."""
    encoder(folder, []).encode(TEXTS)
    gc.collect()
    return EmbeddingCache(folder).path


def tamper(path: Path, vector: np.ndarray, n: int = 5) -> None:
    """Replace the vectors of ``n`` rows by ``vector`` (keeping each row's stated size consistent, if it has one)."""
    con = sqlite3.connect(path)
    columns = [row[1] for row in con.execute("PRAGMA table_info(embeddings)")]
    keys = [row[0] for row in con.execute(f"SELECT key FROM embeddings LIMIT {n}")]
    for key in keys:
        if "dim" in columns:
            con.execute("UPDATE embeddings SET vector = ?, dim = ? WHERE key = ?",
                        (vector.astype("<f4").tobytes(), len(vector), key))
        else:
            con.execute("UPDATE embeddings SET vector = ? WHERE key = ?", (vector.astype("<f4").tobytes(), key))
    con.commit()
    con.close()


def outcome(run) -> str:
    """What a run gave: its vectors compared with fresh ones, its warnings, or the exception it died of."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            X, calls = run()
    except Exception as exc:  # noqa: BLE001 - reported
        return f"FAILS: {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:150]}"
    return describe(X, calls, [str(w.message) for w in caught])


def describe(X, calls, messages) -> str:
    fresh = model(TEXTS)
    if X.shape != fresh.shape or not np.array_equal(X, fresh):
        wrong = int((~np.isclose(X, fresh).all(axis=1)).sum()) if X.shape == fresh.shape else len(TEXTS)
        verdict = f"WRONG VECTORS for {wrong} texts, no error"
    else:
        verdict = "vectors equal fresh ones"
    said = f"; {len(messages)} warning(s): {messages[0][:110]}" if messages else "; no warning"
    return f"{verdict}; {sum(calls)} texts embedded{said}"


def main() -> None:
    rows = []
    root = Path(tempfile.mkdtemp(prefix="labelwise-cache-healing-"))
    root.chmod(0o755)

    def case(name: str, prepare, batch_size: int = 64, during=None) -> None:
        folder = root / name.replace(" ", "-")
        folder.mkdir()
        prepare(folder)

        def run():
            calls: list[int] = []
            enc = encoder(folder, calls, batch_size)
            if during is not None:
                inner = enc._embed_batch
                enc._embed_batch = lambda batch: (during(folder, calls), inner(batch))[1]
            return enc.encode(TEXTS), calls

        rows.append((name, outcome(run)))

    case("corrupt file", lambda f: (f / "embeddings.sqlite3").write_bytes(b"this is not a database" * 100))

    def truncated(f):
        path = filled(f)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    case("truncated file", truncated)

    def wrong_schema(f):
        con = sqlite3.connect(f / "embeddings.sqlite3")
        con.execute("CREATE TABLE embeddings (key BLOB PRIMARY KEY, v BLOB)")
        con.commit()
        con.close()

    case("wrong schema", wrong_schema)
    case("bad-length rows", lambda f: tamper(filled(f), np.array([0.6, 0.8])))
    case("NaN rows", lambda f: tamper(filled(f), np.array([np.nan, 0.0, 1.0])))
    case("wrong-model rows (well-formed)", lambda f: tamper(filled(f), np.array([0.6, 0.8, 0.0])))

    def delete_file(folder, calls):
        if len(calls) == 2:
            os.remove(folder / "embeddings.sqlite3")

    case("file deleted between batches", lambda f: None, batch_size=50, during=delete_file)

    def delete_folder(folder, calls):
        if len(calls) == 2:
            shutil.rmtree(folder)

    case("folder deleted between batches", lambda f: None, batch_size=50, during=delete_folder)

    def hammered(name: str, target: Path, call) -> None:
        """100 calls while a thread deletes ``target`` without pause: how many failed, and how many read wrong."""
        failures, wrong, first = 0, 0, ""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with deleted_without_pause(target):
                for i in range(100):
                    try:
                        wrong += not call(i)
                    except Exception as exc:  # noqa: BLE001 - counted
                        failures += 1
                        first = first or f": {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:100]}"
        rows.append((name, f"{failures} of 100 calls failed, {wrong} read back wrong{first}"))

    vectors = model(TEXTS[:50])
    embeddings = EmbeddingCache(root / "hammered")

    def embedding_call(i: int) -> bool:
        embeddings.put_many("m", TEXTS[:50], vectors)
        return all(np.array_equal(v, vectors[j]) for j, v in embeddings.get_many("m", TEXTS[:50]).items())

    hammered("file deleted during calls", root / "hammered" / "embeddings.sqlite3", embedding_call)
    answers = ResponseCache(root / "hammered-llm" / "llm.sqlite")

    def llm_call(i: int) -> bool:
        answers.put(["question", i], [i])
        return answers.get(["question", i]) in (None, [i])

    hammered("LLM cache deleted during calls", root / "hammered-llm" / "llm.sqlite", llm_call)

    def read_only(name: str, texts_cached: int) -> None:
        folder = root / name.replace(" ", "-")
        folder.mkdir()
        encoder(folder, []).encode(TEXTS[:texts_cached])
        gc.collect()
        calls: list[int] = []
        enc = encoder(folder, calls)

        def run():
            try:
                return enc.encode(TEXTS), calls, None
            except Exception as exc:  # noqa: BLE001 - reported
                return None, calls, f"FAILS: {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:150]}"

        (X, calls_seen, failure), messages = without_write_access(folder, run)
        rows.append((name, failure or describe(X, calls_seen, messages)))

    read_only("read-only, complete", len(TEXTS))
    read_only("read-only, incomplete", len(TEXTS) // 2)

    path = root / "llm" / "llm.sqlite"
    path.parent.mkdir()
    path.write_bytes(b"this is not a database" * 100)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cache = ResponseCache(path)
            miss = cache.get(["a", "question"])
            cache.put(["a", "question"], ["an answer"])
            again = ResponseCache(path).get(["a", "question"])
        said = f"; warning: {str(caught[0].message)[:110]}" if caught else "; no warning"
        rows.append(("corrupt LLM cache", f"miss {miss!r}, then stored and read back {again!r}{said}"))
    except Exception as exc:  # noqa: BLE001 - reported
        rows.append(("corrupt LLM cache", f"FAILS: {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:150]}"))

    shutil.rmtree(root, ignore_errors=True)
    width = max(len(name) for name, _ in rows)
    for name, result in rows:
        print(f"{name:<{width}}  {result}")


if __name__ == "__main__":
    main()
