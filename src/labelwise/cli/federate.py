"""``labelwise federate server|client``: FedLabel on Flower across machines (needs 'labelwise[federated]').

Start one server, then one client per data owner; each client's table stays where it is (only model weights
travel). See docs/learn.md ("FedLabel") and docs/scale.md.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import List, Optional

import typer

from labelwise.cli.console import messages, plain
from labelwise.cli.options import DEBUG, ENCODING, SEP, list_option, writable
from labelwise.errors import ParameterError

app = typer.Typer(
    name="federate",
    help="Federated learning with few labels per client (FedLabel on Flower; needs 'labelwise[federated]').",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

ADDRESS = typer.Option("127.0.0.1:8080", "--address", "-a", help="HOST:PORT the server listens on / clients "
                       "connect to (0.0.0.0:PORT to accept other machines).")
HIDDEN = typer.Option(128, "--hidden", help="Width of the hidden layer of the shared MLP (server and clients alike).")
THREADS = typer.Option(1, "--threads", help="torch CPU threads (the MLP is small: one thread is usually fastest, and "
                       "far faster than several on a busy machine).")


def _prepare(threads: int) -> None:
    """One line per round from us instead of Flower's log (its deprecation notices included); torch threads."""
    import logging

    import torch

    if threads < 1:
        raise ParameterError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    logging.getLogger("flwr").setLevel(logging.ERROR)


def _say(text: str) -> None:
    messages.print(plain(text), soft_wrap=True)


@app.command("server", no_args_is_help=True)
def server(
    classes: List[str] = list_option("--classes", "-c", metavar="LABEL", required=True,
                                     help="Every label the clients may hold."),
    n_features: int = typer.Option(..., "--n-features", help="How many feature columns each client has.",
                                   show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for global_model.npz (after every round) and "
                             "history.csv.", show_default=False),
    rounds: int = typer.Option(10, "--rounds", "-r", help="Rounds to run (after those in the checkpoint with "
                               "--resume)."),
    min_clients: int = typer.Option(2, "--min-clients", help="Clients needed to start a round and to accept it; a "
                                    "client that dies mid-round is left out when this many others answered."),
    wait_for: Optional[int] = typer.Option(None, "--wait-for", help="Clients to wait for before the first round "
                                           "(default: --min-clients)."),
    round_timeout: Optional[float] = typer.Option(None, "--round-timeout", help="Seconds a round waits for its "
                                                  "clients before going on without the slow ones."),
    address: str = ADDRESS,
    hidden: int = HIDDEN,
    pseudo_labels: str = typer.Option("fedlabel", "--pseudo-labels", help="fedlabel (selective, the paper), "
                                      "global or local (one model's pseudo-labels), none (FedAvg on labels only)."),
    local_epochs: int = typer.Option(2, "--local-epochs", help="Local epochs per round."),
    lr: float = typer.Option(0.05, "--lr", help="Clients' SGD learning rate."),
    threshold: float = typer.Option(0.95, "--threshold", help="Confidence a pseudo-label needs to be trained on."),
    lambda_c: float = typer.Option(1.0, "--lambda-c", help="Weight of the global-local consistency term."),
    test: Optional[Path] = typer.Option(None, "--test", help="A labelled held-out table (same columns as the "
                                        "clients') to measure the global model after every round."),
    label: Optional[str] = typer.Option(None, "--label", "-l", help="The label column of --test."),
    features: Optional[List[str]] = list_option("--features", "-f", help="Feature columns of --test (default: its "
                                                "numeric columns but the label)."),
    resume: bool = typer.Option(False, "--resume", help="Start from --out's global_model.npz."),
    seed: int = typer.Option(0, "--seed", help="Seed of the initial model and of the clients' augmentations."),
    threads: int = THREADS,
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    debug: bool = DEBUG,
) -> None:
    """Run the FedLabel server: FedAvg over the clients' weights, the FedLabel settings sent each round.

    Example: labelwise federate server --classes a,b,c --n-features 64 --rounds 20 --out fed/ --address 0.0.0.0:8080
    """
    import pandas as pd

    from labelwise.data.io import write_table_atomic
    from labelwise.scale.federated_flower import (
        FedLabelSettings,
        check_address,
        make_strategy,
        read_shard,
        run_server,
    )

    check_address(address)
    writable(out, folder=True)
    if test is not None and label is None:
        raise ParameterError("--test needs --label, the name of its label column")
    settings = FedLabelSettings(pseudo_labels=pseudo_labels, local_epochs=local_epochs, lr=lr, threshold=threshold,
                                lambda_c=lambda_c, seed=seed)
    held_out = read_shard(test, label=label, classes=classes, features=features, encoding=encoding, sep=sep) \
        if test is not None else None
    if held_out is not None and held_out.n_features != n_features:
        raise ParameterError(f"--test {test} has {held_out.n_features} feature columns, --n-features says {n_features}")

    def report(record) -> None:
        if not record.updated:
            _say(f"round {record.round}: failed, only {record.clients} of the {min_clients} clients needed answered "
                 f"({record.failures} failed); the global model is unchanged, the next round goes on")
            return
        acc = "" if math.isnan(record.test_accuracy) else f", test accuracy {record.test_accuracy:.3f}"
        _say(f"round {record.round}: {record.clients} clients, {record.failures} failed, pseudo-labelled "
             f"{record.mask_rate:.0%} (local model chose {record.local_share:.0%}){acc}")

    strategy = make_strategy(classes=classes, n_features=n_features, hidden=hidden, settings=settings,
                             min_clients=min_clients, wait_for=wait_for, out=out, resume=resume, test=held_out, on_round=report)
    _prepare(threads)
    _say(f"FedLabel server on {address}: waiting for {wait_for or min_clients} clients")
    history = run_server(strategy, address=address, rounds=rounds, round_timeout=round_timeout)
    write_table_atomic(pd.DataFrame([vars(r) for r in history]), out / "history.csv")
    _say(f"wrote {out / 'global_model.npz'} ({strategy.rounds_done} rounds) and {out / 'history.csv'}")


@app.command("client", no_args_is_help=True)
def client(
    data: Path = typer.Argument(..., help="This client's table (CSV, TSV, Parquet, JSON Lines): numeric feature "
                                "columns and a label column, empty where a row is unlabelled.", show_default=False),
    label: str = typer.Option(..., "--label", "-l", help="The label column (empty cell = unlabelled).",
                              show_default=False),
    classes: List[str] = list_option("--classes", "-c", metavar="LABEL", required=True,
                                     help="The same label list as the server's, in the same order."),
    features: Optional[List[str]] = list_option("--features", "-f", help="Feature columns (default: every numeric "
                                                "column but the label)."),
    address: str = ADDRESS,
    hidden: int = HIDDEN,
    threads: int = THREADS,
    encoding: Optional[str] = ENCODING,
    sep: Optional[str] = SEP,
    debug: bool = DEBUG,
) -> None:
    """Join a FedLabel server with this table; trains locally each round until the server ends.

    Example: labelwise federate client shard.csv --label intent --classes a,b,c --address 10.0.0.5:8080
    """
    from labelwise.scale.federated_flower import check_address, make_client, read_shard, run_client

    check_address(address)
    shard = read_shard(data, label=label, classes=classes, features=features, encoding=encoding, sep=sep)
    _say(f"{data}: {len(shard.X_l):,} labelled and {len(shard.X_u):,} unlabelled rows, {shard.n_features} features; "
         f"connecting to {address}")

    def report(event: str, rnd: int) -> None:
        _say(f"round {rnd}: training" if event == "fit" else f"round {rnd}: sent")

    _prepare(threads)
    run_client(make_client(shard, n_classes=len(classes), hidden=hidden, on_round=report), address=address)
    _say("the server ended the training")
