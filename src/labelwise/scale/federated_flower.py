"""FedLabel on Flower (flwr, Apache-2.0): a strategy and a client, for real nodes or Flower's simulation engine.

FedLabel (Cho, Joshi, Dimitriadis, ICCV 2023; the algorithm in :mod:`labelwise.learn.federated`): each client
pseudo-labels its unlabelled rows with whichever of its local model and the global model is more confident, adds
the global-local consistency term, and sends back its weights; the server averages them (FedAvg). Only the weights
and a few numbers per round travel; the rows and their labels never leave the client.

- :func:`read_shard`: a client's table (CSV, TSV, Parquet, JSON Lines): numeric feature columns and a label
  column whose empty cells are the unlabelled rows.
- :func:`make_client`: a Flower ``NumPyClient`` that runs :func:`labelwise.learn.federated.local_update` with
  the settings the server sends each round.
- :func:`make_strategy`: Flower's ``FedAvg`` that sends the FedLabel settings, starts from a seeded (or
  checkpointed) model, evaluates the global model on a held-out table, writes ``global_model.npz`` after every
  round (atomically; ``resume`` continues from it) and keeps one history row per round (clients, failures,
  mask rate, local share, accuracy).
- :func:`run_server` / :func:`run_client`: the two processes of a real deployment over gRPC
  (``labelwise federate server|client``). A client that dies mid-round counts as a failure: the round
  completes with the others when at least ``min_clients`` answered, else it fails with a clear error. A bad
  address or a port in use is a ParameterError (:func:`check_address`), not Flower's exit.
- :func:`client_app` / :func:`server_app`: the same client and strategy as Flower apps, for
  ``flwr.simulation.run_simulation`` or ``flwr run``.

Workflows floor: reads tables and writes the checkpoint; prints nothing (callbacks report progress).
"""

from __future__ import annotations

import io
import math
import os
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from labelwise.errors import DataError, MissingExtraError, ParameterError

CHECKPOINT = "global_model.npz"


def _flwr():
    # Flower posts usage events to telemetry.flower.ai from every server and client unless this is "0"; labelwise
    # opens no connection the user did not ask for (set FLWR_TELEMETRY_ENABLED=1 to allow them)
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    try:
        import flwr  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("flwr", "federated", "federated training on Flower (labelwise federate)") from exc
    return flwr


@dataclass
class FedLabelSettings:
    """What the server sends every client each round (see :func:`labelwise.learn.federated.local_update`)."""

    pseudo_labels: str = "fedlabel"
    local_epochs: int = 2
    lr: float = 0.05
    batch_size: int = 32
    threshold: float = 0.95
    lambda_u: float = 1.0
    lambda_c: float = 1.0
    criterion: str = "max_prob"
    # the views: Gaussian noise in units of each feature's standard deviation on the client, feature dropout
    weak_noise: float = 0.05
    strong_noise: float = 0.2
    strong_drop: float = 0.2
    seed: int = 0

    def __post_init__(self):
        from labelwise.learn.federated import CRITERIA, PSEUDO_LABELS

        if self.pseudo_labels not in PSEUDO_LABELS:
            raise ParameterError(f"pseudo-labels must be one of {', '.join(PSEUDO_LABELS)}, got {self.pseudo_labels!r}")
        if self.criterion not in CRITERIA:
            raise ParameterError(f"criterion must be one of {', '.join(CRITERIA)}, got {self.criterion!r}")
        if self.local_epochs < 1 or self.batch_size < 1 or self.lr <= 0 or not 0 <= self.threshold <= 1:
            raise ParameterError("need local epochs >= 1, batch size >= 1, lr > 0 and 0 <= threshold <= 1")


@dataclass
class Shard:
    """One client's rows: X_l (n_l, d) float32, y_l (n_l,) int class indices, X_u (n_u, d) float32."""

    X_l: np.ndarray
    y_l: np.ndarray
    X_u: np.ndarray
    source: str = ""

    @property
    def n_features(self) -> int:
        return self.X_l.shape[1]


def _label_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_shard(table, *, label: str, classes: Sequence[str], features: Optional[Sequence[str]] = None,
               encoding: Optional[str] = None, sep: Optional[str] = None) -> Shard:
    """A client's table -> :class:`Shard`. ``table``: a path (CSV/TSV/Parquet/JSON Lines) or a DataFrame.

    ``label``: the label column; an empty cell marks an unlabelled row; every other value must be one of
    ``classes`` (compared as text). ``features``: the numeric feature columns (default: every numeric column
    but the label). DataError on a missing column, a non-numeric or missing feature value, an unknown label or a
    table without a labelled row.
    """
    import pandas as pd

    from labelwise.data.io import read_table

    frame = read_table(table, encoding=encoding, sep=sep)
    where = table if isinstance(table, (str, os.PathLike)) else "the table"
    if label not in frame.columns:
        raise DataError(f"{where}: no column {label!r} (columns: {', '.join(map(str, frame.columns[:10]))}); "
                        f"pass the label column with --label")
    if features is None:
        features = [c for c in frame.columns if c != label and pd.api.types.is_numeric_dtype(frame[c])]
        if not features:
            raise DataError(f"{where}: no numeric feature column besides {label!r}; give --features")
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise DataError(f"{where}: no feature column {missing[0]!r}; check --features")
    values = frame[list(features)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32)
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        row, col = bad[0]
        raise DataError(f"{where}: row {row + 2}, column {features[col]!r}: not a finite number "
                        f"({frame[features[col]].iloc[row]!r}); clean the features or drop that column")
    index = {str(c): i for i, c in enumerate(classes)}
    raw = frame[label]
    labelled = ~(raw.isna() | (raw.astype(str).str.strip() == "")).to_numpy()
    texts = [_label_text(v) for v in raw[labelled]]
    unknown = sorted({t for t in texts if t not in index})
    if unknown:
        raise DataError(f"{where}: column {label!r} holds labels not in the classes: {', '.join(unknown[:5])}; "
                        f"add them to the server's --classes or clean the column")
    if not labelled.any():
        raise DataError(f"{where}: column {label!r} has no labelled row; a FedLabel client needs a few labels")
    return Shard(values[labelled], np.asarray([index[t] for t in texts], dtype=np.int64), values[~labelled],
                 str(where))


def save_checkpoint(path, parameters: Sequence[np.ndarray], *, classes: Sequence[str], hidden: int,
                    rounds_done: int) -> Path:
    """Write the global model (parameters, classes, hidden width, rounds done) to ``path`` atomically (.npz)."""
    from labelwise.data.atomic import write_bytes_atomic

    buffer = io.BytesIO()
    np.savez(buffer, classes=np.asarray([str(c) for c in classes]), hidden=np.asarray(hidden),
             rounds_done=np.asarray(rounds_done), **{f"param_{i}": p for i, p in enumerate(parameters)})
    return write_bytes_atomic(path, buffer.getvalue())


def load_checkpoint(path) -> dict:
    """Read what :func:`save_checkpoint` wrote: parameters, classes, hidden, rounds_done (DataError if unreadable)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            n = sum(1 for k in data.files if k.startswith("param_"))
            return {"parameters": [data[f"param_{i}"] for i in range(n)], "classes": data["classes"].tolist(),
                    "hidden": int(data["hidden"]), "rounds_done": int(data["rounds_done"])}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a FedLabel checkpoint ({exc}); delete it or point --out elsewhere") from exc


def global_model(parameters: Sequence[np.ndarray], n_classes: int, hidden: int):
    """The global MLP holding ``parameters`` (torch), e.g. from :func:`load_checkpoint`."""
    from labelwise.learn.federated import MLP, set_parameters

    model = MLP(parameters[0].shape[1], n_classes, hidden)
    set_parameters(model, parameters)
    return model.eval()


def _accuracy(parameters, n_classes: int, hidden: int, X: np.ndarray, y: np.ndarray) -> tuple:
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        logits = global_model(parameters, n_classes, hidden)(torch.as_tensor(X))
        loss = float(F.cross_entropy(logits, torch.as_tensor(y)))
    return loss, float((logits.argmax(1).numpy() == y).mean())


def make_client(shard: Shard, *, n_classes: int, hidden: int = 128,
                on_round: Optional[Callable[[str, int], None]] = None):
    """A Flower ``NumPyClient`` training FedLabel on ``shard`` with the settings each round's config carries.

    ``on_round(event, round)`` is called with "fit" when a round's local training starts and "done" after it.
    """
    import torch

    from labelwise.learn.federated import MLP, get_parameters, local_update, noise_augment, set_parameters

    fl = _flwr()

    class _Client(fl.client.NumPyClient):
        def __init__(self):
            torch.manual_seed(0)
            self.model = MLP(shard.n_features, n_classes, hidden)

        def get_parameters(self, config):
            return get_parameters(self.model)

        def fit(self, parameters, config):
            rnd = int(config.get("server_round", 0))
            if on_round:
                on_round("fit", rnd)
            set_parameters(self.model, parameters)
            s = FedLabelSettings(**{k: config[k] for k in asdict(FedLabelSettings()) if k in config})
            spread = np.concatenate([shard.X_l, shard.X_u]).std(axis=0)
            stats = local_update(
                self.model, shard.X_l, shard.y_l, shard.X_u, pseudo_labels=s.pseudo_labels, epochs=s.local_epochs,
                lr=s.lr, batch_size=s.batch_size, threshold=s.threshold, lambda_u=s.lambda_u, lambda_c=s.lambda_c,
                criterion=s.criterion, weak_augment=noise_augment(s.weak_noise, scale=spread),
                strong_augment=noise_augment(s.strong_noise, s.strong_drop, scale=spread),
                seed=s.seed * 1_000_003 + rnd * 1009 + int(config.get("client_salt", 0)))
            if on_round:
                on_round("done", rnd)
            return get_parameters(self.model), len(shard.X_l) + len(shard.X_u), \
                {k: float(v) for k, v in stats.items()}

        def evaluate(self, parameters, config):
            loss, acc = _accuracy(parameters, n_classes, hidden, shard.X_l, shard.y_l)
            return loss, len(shard.X_l), {"accuracy": acc}

    return _Client()


@dataclass
class RoundRecord:
    """One row of the server's history."""

    round: int
    clients: int
    failures: int
    updated: bool = True
    mask_rate: float = math.nan
    local_share: float = math.nan
    test_accuracy: float = math.nan


def _mean_metrics(pairs) -> dict:
    """Flower's per-round metrics: the clients' figures weighted by their example counts."""
    total = sum(n for n, _ in pairs) or 1
    keys = set().union(*(m.keys() for _, m in pairs)) if pairs else set()
    return {k: sum(n * m.get(k, 0.0) for n, m in pairs) / total for k in keys}


def make_strategy(*, classes: Sequence[str], n_features: int, hidden: int = 128,
                  settings: Optional[FedLabelSettings] = None, min_clients: int = 2, wait_for: Optional[int] = None,
                  out=None, resume: bool = False,
                  test: Optional[Shard] = None, on_round: Optional[Callable[[RoundRecord], None]] = None):
    """Flower's FedAvg for FedLabel. Returns the strategy; ``strategy.history`` lists a :class:`RoundRecord` per round.

    classes: the label set (all clients use the same); n_features: the width of every client's features;
    min_clients: clients needed to start a round and to accept it: a round with fewer answers (clients died or
    timed out) fails, is recorded with ``updated=False``, leaves the global model as it was, and the next round
    goes on with the clients there are; wait_for: clients to wait for before the first round (default min_clients);
    out: folder for ``global_model.npz`` (written after every round); resume: start from that file (its classes
    and shapes must match) and number rounds after the ones it holds; test: a held-out :class:`Shard` whose
    labelled rows measure the global model after every round.
    """
    import torch

    from labelwise.learn.federated import MLP, get_parameters

    fl = _flwr()
    settings = settings or FedLabelSettings()
    classes = [str(c) for c in classes]
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise ParameterError(f"need at least two distinct classes, got {classes}")
    wait_for = min_clients if wait_for is None else wait_for
    if min_clients < 1 or wait_for < min_clients or n_features < 1 or hidden < 1:
        raise ParameterError("need min clients >= 1, wait-for >= min clients, n_features >= 1 and hidden >= 1")
    checkpoint = Path(out) / CHECKPOINT if out is not None else None
    start = 0
    if resume:
        if checkpoint is None or not checkpoint.exists():
            raise ParameterError(f"--resume: no {CHECKPOINT} in {out}; run without --resume first")
        saved = load_checkpoint(checkpoint)
        if saved["classes"] != classes or saved["hidden"] != hidden or saved["parameters"][0].shape[1] != n_features:
            raise ParameterError(f"--resume: {checkpoint} holds classes {saved['classes']}, hidden {saved['hidden']}, "
                                 f"{saved['parameters'][0].shape[1]} features; run with the same settings")
        initial, start = saved["parameters"], saved["rounds_done"]
    else:
        torch.manual_seed(settings.seed)
        initial = get_parameters(MLP(n_features, len(classes), hidden))

    class _Strategy(fl.server.strategy.FedAvg):
        def __init__(self):
            super().__init__(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=min_clients,
                             min_evaluate_clients=min_clients, min_available_clients=min_clients,
                             accept_failures=True,
                             initial_parameters=fl.common.ndarrays_to_parameters(initial),
                             on_fit_config_fn=lambda rnd: {**asdict(settings), "server_round": start + rnd},
                             fit_metrics_aggregation_fn=_mean_metrics,
                             evaluate_fn=self._evaluate if test is not None else None)
            self.history: list = []
            self.rounds_done = start

        def configure_fit(self, server_round, parameters, client_manager):
            if server_round == 1:
                client_manager.wait_for(wait_for, timeout=86400)
            pairs = super().configure_fit(server_round, parameters, client_manager)
            # each client gets its own random stream (the config is otherwise shared)
            return [(proxy, fl.common.FitIns(ins.parameters, {**ins.config, "client_salt": i}))
                    for i, (proxy, ins) in enumerate(pairs)]

        def aggregate_fit(self, server_round, results, failures):
            record = RoundRecord(start + server_round, len(results), len(failures))
            if len(results) < min_clients:  # Flower keeps the previous global model when we return None
                record.updated = False
                self.history.append(record)
                if on_round:
                    on_round(record)
                return None, {}
            parameters, _ = super().aggregate_fit(server_round, results, failures)
            for key in ("mask_rate", "local_share"):
                setattr(record, key, float(np.mean([r.metrics.get(key, math.nan) for _, r in results])))
            self.rounds_done = start + server_round
            if checkpoint is not None:
                save_checkpoint(checkpoint, fl.common.parameters_to_ndarrays(parameters), classes=classes,
                                hidden=hidden, rounds_done=self.rounds_done)
            self.history.append(record)
            if test is None and on_round:
                on_round(record)
            return parameters, {"clients": len(results), "failures": len(failures)}

        def _evaluate(self, server_round, parameters, config):
            loss, acc = _accuracy(parameters, len(classes), hidden, test.X_l, test.y_l)
            last = self.history[-1] if self.history else None
            if server_round > 0 and last is not None and last.round == start + server_round and last.updated:
                self.history[-1].test_accuracy = acc
                if on_round:
                    on_round(self.history[-1])
            return loss, {"accuracy": acc}

    return _Strategy()


def check_address(address: str) -> None:
    """ParameterError unless ``address`` is HOST:PORT (Flower would exit with status 1 and a log line)."""
    host, colon, port = address.rpartition(":")
    if not colon or not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
        raise ParameterError(f"--address {address!r}: give HOST:PORT, e.g. 127.0.0.1:8080 ([::1]:8080 for IPv6)")


def run_server(strategy, *, address: str = "127.0.0.1:8080", rounds: int = 10,
               round_timeout: Optional[float] = None) -> list:
    """Serve FedLabel over gRPC for ``rounds`` rounds; returns ``strategy.history`` (:class:`RoundRecord` rows)."""
    fl = _flwr()
    if rounds < 1:
        raise ParameterError(f"--rounds must be >= 1, got {rounds}")
    if round_timeout is not None and not round_timeout > 0:
        raise ParameterError(f"--round-timeout must be > 0 seconds, got {round_timeout}")
    check_address(address)
    try:
        fl.server.start_server(server_address=address, strategy=strategy,
                               config=fl.server.ServerConfig(num_rounds=rounds, round_timeout=round_timeout))
    except SystemExit as exc:  # Flower's own exit before serving: the port is taken
        if not isinstance(exc.code, str):
            raise
        raise ParameterError(f"{exc.code.rstrip('.')}; pick another port in --address or stop what holds it") \
            from None
    return strategy.history


def run_client(client, *, address: str = "127.0.0.1:8080") -> None:
    """Connect ``client`` (from :func:`make_client`) to the server at ``address`` and train until it ends."""
    fl = _flwr()
    check_address(address)
    fl.client.start_client(server_address=address, client=client.to_client(), insecure=True)


def client_app(shards: Sequence[Shard], *, n_classes: int, hidden: int = 128):
    """A Flower ``ClientApp`` whose node ``partition-id`` i trains on ``shards[i]`` (simulation engine)."""
    fl = _flwr()

    def client_fn(context):
        index = int(context.node_config.get("partition-id", 0))
        return make_client(shards[index], n_classes=n_classes, hidden=hidden).to_client()

    return fl.client.ClientApp(client_fn=client_fn)


def server_app(strategy, *, rounds: int):
    """A Flower ``ServerApp`` running ``strategy`` for ``rounds`` rounds (simulation engine or ``flwr run``)."""
    fl = _flwr()

    def server_fn(context):
        return fl.server.ServerAppComponents(strategy=strategy, config=fl.server.ServerConfig(num_rounds=rounds))

    return fl.server.ServerApp(server_fn=server_fn)
