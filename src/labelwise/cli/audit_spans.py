"""``labelwise audit DATA --spans COL``: the span-label audit (:mod:`labelwise.audit.spans`) behind ``audit``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from labelwise.cli.console import console, messages, plain, progress_bars
from labelwise.errors import ParameterError

#: --encoder values the span audit takes (word states per token; TF-IDF has none).
SPAN_ENCODERS = ("minilm", "hashing")


def refuse_with_spans(**given) -> None:
    """One ParameterError for the first option (option -> value) that the span audit does not take."""
    for option, value in given.items():
        if value:
            raise ParameterError(f"{option} is not used by the span audit (--spans); drop it.")


def run_span_audit(data: Path, *, spans: str, text: Optional[str], pred_probs: Optional[Path], out: Path,
                   encoder: str, folds: Optional[int], random_state: int, show: int, quiet: bool) -> None:
    """Audit DATA's span column, write OUT/span_issues.csv, token_issues.csv, row_scores.csv, summary.json and
    print the ``show`` most confident span issues as plain text."""
    from labelwise.audit.spans import audit_spans

    if encoder not in SPAN_ENCODERS:
        raise ParameterError(f"--encoder {encoder} gives no token features; the span audit takes "
                             f"{' or '.join(SPAN_ENCODERS)}.")
    if folds is not None and folds < 2:
        raise ParameterError(f"--folds {folds}: pass 2 or more.")
    if encoder == "hashing":
        from labelwise.features.hashing import HashingTextEncoder

        model = HashingTextEncoder(dim=256)
    else:
        from labelwise.features.text import TextEncoder

        model = TextEncoder()
    with progress_bars(enabled=not quiet):
        result = audit_spans(str(data), spans=spans, text=text, pred_probs=pred_probs,
                             encoder=None if pred_probs is not None else model, n_splits=folds or 5,
                             random_state=random_state)
    result.save(out)
    frame = result.to_frame()
    console.print(plain(f"{len(result.texts)} rows, {sum(len(t) for t in result.tags)} tokens: "
                        f"{len(result.token_issues)} flagged tokens, {len(frame)} span issues "
                        f"(probabilities: {result.source})"), soft_wrap=True)
    if show and len(frame):
        columns = ["row", "issue", "span", "given_label", "suggested_span", "suggested_label", "score"]
        console.print(plain(frame[columns].head(show).to_string(index=False, float_format="{:.3f}".format)),
                      soft_wrap=True)
    messages.print(plain(f"wrote {out}/ span_issues.csv, token_issues.csv, row_scores.csv, summary.json"),
                   soft_wrap=True)
