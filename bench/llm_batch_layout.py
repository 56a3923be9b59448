"""Why llama.cpp scores must be compared with the same batch layout: the log-probability of one token after one
prompt, computed by the packaged Gemma 3 270M with the prompt split differently between two ``llama_decode``
batches. Each row decodes positions ``0 .. n-k-1`` in one batch and the last ``k`` prompt positions in a second
one, then reads the logits of the last position. Threads and repeats are varied to show they change nothing.

    python bench/llm_batch_layout.py

The numbers depend on the CPU's kernels (llama.cpp repacks Q4_K weights for AVX2/AVX-512 and multiplies groups
of four rows with another kernel than the rows left over), not on the machine's load.
"""

from __future__ import annotations

import numpy as np

import llama_cpp
from labelwise.llm.llamacpp import default_model_path

PROMPT = ("Review: I loved every minute of it.\nSentiment: positive\n\nReview: A dull, boring mess.\n"
          "Sentiment: negative\n\nReview: What a wonderful, moving film.\nSentiment:")
LABEL = " negative"


def log_prob(llm: llama_cpp.Llama, tokens: list[int], k: int, target: int) -> float:
    """Decode ``tokens`` as two batches (all but the last ``k``, then those ``k``); log p(target) at the end."""
    n_vocab = llm.n_vocab()
    llm._ctx.kv_cache_seq_rm(-1, 0, -1)
    for start, chunk in ((0, tokens[: len(tokens) - k]), (len(tokens) - k, tokens[len(tokens) - k:])):
        if not chunk:
            continue
        llm._batch.set_batch(batch=chunk, n_past=start, logits_all=False)  # logits of the chunk's last row
        llm._ctx.decode(llm._batch)
    row = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(1, n_vocab))[0].astype(np.float64)
    top = row.max()
    return float(row[target] - top - np.log(np.exp(row - top).sum()))


def main() -> None:
    path = str(default_model_path())
    print(f"{'threads':>7}  {'last k tokens in a batch of their own':>38}  log p('{LABEL.strip()}')  (3 repeats)")
    for threads in (1, 2):
        llm = llama_cpp.Llama(model_path=path, n_ctx=512, n_threads=threads, n_threads_batch=threads, n_batch=64,
                              n_ubatch=64, verbose=False)
        prompt = llm.tokenize(PROMPT.encode(), add_bos=True)
        target = llm.tokenize((PROMPT + LABEL).encode(), add_bos=True)[len(prompt)]
        for k in (len(prompt), len(prompt) - 1, 8, 5, 4, 3, 2, 1):
            values = {log_prob(llm, prompt, k, target) for _ in range(3)}
            shown = ", ".join(f"{v:.6f}" for v in sorted(values))
            label = f"{k} (all {len(prompt)} in one batch)" if k == len(prompt) else str(k)
            print(f"{threads:>7}  {label:>38}  {shown}")


if __name__ == "__main__":
    main()
