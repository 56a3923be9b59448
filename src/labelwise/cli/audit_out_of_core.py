"""``labelwise audit`` out of core: when it applies, what it refuses, and the run itself (kept apart from
``cli/audit.py`` so that the in-memory command stays as it was)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from labelwise.cli.console import interrupt_after, messages, plain, progress_bars
from labelwise.errors import ParameterError

#: How much larger than its file a table is in memory (pandas objects for text, decompression for Parquet); a file
#: whose estimate exceeds the memory limit is audited out of core.
MEMORY_PER_FILE_BYTE = {".parquet": 8.0, ".pq": 8.0}
DEFAULT_MEMORY_PER_FILE_BYTE = 4.0


def out_of_core_reason(data: Path, forced: bool, memory_limit: Optional[str]) -> Optional[str]:
    """Why DATA is audited out of core (a phrase for the note), or None to audit it in memory."""
    from labelwise.audit.memory_budget import parse_memory

    limit = parse_memory(memory_limit)  # checked even for an in-memory run: a wrong value is refused
    if forced:
        return "--out-of-core"
    if data.is_dir():
        return f"{data} is a Parquet dataset folder"
    if data.is_file():
        estimate = data.stat().st_size * MEMORY_PER_FILE_BYTE.get(data.suffix.lower(), DEFAULT_MEMORY_PER_FILE_BYTE)
        if estimate > limit:
            return (f"{data} would take about {estimate / 2**30:.1f} GB in memory, over the memory limit of "
                    f"{limit / 2**30:.1f} GB")
    return None


def refuse_unsupported(**given) -> None:
    """One ParameterError for the first option the out-of-core audit does not support (given: option -> value)."""
    for option, value in given.items():
        if value:
            raise ParameterError(f"{option} is not supported by the out-of-core audit (large files and Parquet "
                                 f"folders); drop {option}, or audit a file that fits in memory.")


def run_out_of_core(data: Path, reason: str, *, out: Path, quiet: bool, memory_limit: Optional[str], **options):
    """Audit DATA with :func:`labelwise.audit.out_of_core.audit_out_of_core`, printing the note that says so."""
    from labelwise.audit.memory_budget import parse_memory
    from labelwise.audit.out_of_core import audit_out_of_core

    limit = parse_memory(memory_limit)
    messages.print(plain(f"note: auditing out of core ({reason}); memory limit {limit / 2**20:,.0f} MB, work files "
                         f"in {out}/.work"), soft_wrap=True)
    with progress_bars(enabled=not quiet) as progress, interrupt_after():
        return audit_out_of_core(str(data), out=out, memory_limit=limit, progress=progress, **options)
