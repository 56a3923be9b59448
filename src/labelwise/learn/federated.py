"""FedLabel: federated learning with limited labels by selective knowledge assimilation.

Cho, Joshi, Dimitriadis, "Local or Global: Selective Knowledge Assimilation for Federated Learning with Limited
Labels", ICCV 2023 (arXiv 2307.08809). Each client holds a few labelled rows and many unlabelled ones. In every
round it starts from the global model and, for each unlabelled row, pseudo-labels it with whichever of the local
model (the copy being trained this round) and the global model (frozen) is more confident: the "expert". It trains
on the strong view with that pseudo-label when it is confident enough (FixMatch's mask), plus a global-local
consistency term KL(p_global || p_student) on the rows where both models agree. The server averages the weights
(FedAvg); nothing else is communicated.

No official code was found; the rules follow the implementation notes (``papers/specs`` section 3):
``conf = max probability`` (or negative entropy), the local model wins ties, threshold 0.95, both weights 1.

Algorithms floor: arrays and tensors in and out, no I/O, no printing. The pieces:

- :func:`dirichlet_partition`: the label-skewed split of rows over clients used in the experiments.
- :func:`select_expert_pseudo_labels`: per-row choice between the local and the global model's pseudo-label.
- :func:`global_local_consistency`: the consistency term.
- :func:`fedavg`: the weighted average of the clients' parameters.
- :func:`local_update`: one client's round (the loss above, SGD with momentum: :func:`sgd_momentum_step`) on a
  :class:`MLP`; the Flower client calls it.
- :class:`FedLabelClassifier`: the whole federation simulated in-process (scikit-learn idiom), with the
  baselines of the notes as ``pseudo_labels="global" | "local" | "none"``.
"""

from __future__ import annotations

import copy
from typing import Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from labelwise.errors import ParameterError, ShapeError

PSEUDO_LABELS = ("fedlabel", "global", "local", "none")
CRITERIA = ("max_prob", "neg_entropy")

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def dirichlet_partition(labels, n_clients: int, alpha: float, *, random_state=None) -> list:
    """Split row indices over clients with Dirichlet(alpha) label skew (small alpha: few classes per client).

    labels: (n,) int. Returns n_clients arrays of row indices (each sorted; together a partition of range(n)).
    For every class the rows are shuffled and cut in proportions drawn from Dirichlet(alpha * 1_{n_clients}).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ShapeError(f"dirichlet_partition: labels must be 1-D, got shape {labels.shape}")
    if n_clients < 1 or alpha <= 0:
        raise ParameterError(f"dirichlet_partition: need n_clients >= 1 and alpha > 0, got {n_clients} and {alpha}")
    rng = np.random.default_rng(random_state)
    parts: list = [[] for _ in range(n_clients)]
    for cls in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == cls))
        cuts = (np.cumsum(rng.dirichlet(np.full(n_clients, alpha)))[:-1] * len(rows)).astype(int)
        for client, chunk in enumerate(np.split(rows, cuts)):
            parts[client].extend(chunk.tolist())
    return [np.sort(np.asarray(p, dtype=int)) for p in parts]


def _confidence(probs: torch.Tensor, criterion: str) -> torch.Tensor:
    if criterion == "max_prob":
        return probs.max(dim=1).values
    if criterion == "neg_entropy":
        return (probs * torch.log(probs.clamp_min(1e-12))).sum(dim=1)
    raise ParameterError(f"criterion must be one of {CRITERIA}, got {criterion!r}")


def select_expert_pseudo_labels(p_local, p_global, *, threshold: float = 0.95, criterion: str = "max_prob"):
    """FedLabel's selective pseudo-labelling: per row, the more confident of the local and the global model.

    p_local, p_global: (n, k) float probabilities (torch or numpy). The local model wins ties (at the first local
    step both are the same model). Returns ``(labels, mask, source)``: labels (n,) int, the chosen model's argmax;
    mask (n,) bool, its maximum probability >= threshold (FixMatch's confidence mask); source (n,) int, 0 where the
    local model was chosen and 1 where the global one was. Same type as the input (torch in, torch out).
    """
    as_numpy = not isinstance(p_local, torch.Tensor)
    p_loc = torch.as_tensor(np.asarray(p_local) if as_numpy else p_local)
    p_glo = torch.as_tensor(np.asarray(p_global) if as_numpy else p_global)
    if p_loc.ndim != 2 or p_loc.shape != p_glo.shape:
        raise ShapeError(f"select_expert_pseudo_labels: p_local and p_global must both be (n, k), got "
                         f"{tuple(p_loc.shape)} and {tuple(p_glo.shape)}")
    use_local = _confidence(p_loc, criterion) >= _confidence(p_glo, criterion)
    chosen = torch.where(use_local[:, None], p_loc, p_glo)
    top, labels = chosen.max(dim=1)
    mask = top >= threshold
    source = (~use_local).long()
    if as_numpy:
        return labels.numpy(), mask.numpy(), source.numpy()
    return labels, mask, source


def global_local_consistency(logits_student: torch.Tensor, p_local: torch.Tensor, p_global: torch.Tensor,
                             reduction: str = "mean") -> torch.Tensor:
    """FedLabel's global-local consistency: KL(p_global || softmax(logits_student)) where both models agree.

    logits_student: (n, k) float, the local model's logits on the weak view (gradients flow into it only);
    p_local, p_global: (n, k) float probabilities (no gradient is taken through them). A row counts when the argmax
    of p_local equals that of p_global. reduction "mean" averages over all n rows (rows that disagree count as 0),
    "sum" adds them up, "none" returns (n,).
    """
    if logits_student.shape != p_local.shape or p_local.shape != p_global.shape or logits_student.ndim != 2:
        raise ShapeError(f"global_local_consistency: need three (n, k) arrays, got {tuple(logits_student.shape)}, "
                         f"{tuple(p_local.shape)}, {tuple(p_global.shape)}")
    p_global = p_global.detach()
    agree = (p_local.detach().argmax(dim=1) == p_global.argmax(dim=1)).to(logits_student.dtype)
    log_student = F.log_softmax(logits_student, dim=1)
    kl = (p_global * (torch.log(p_global.clamp_min(1e-12)) - log_student)).sum(dim=1) * agree
    if reduction == "mean":
        return kl.mean()
    if reduction == "sum":
        return kl.sum()
    if reduction == "none":
        return kl
    raise ParameterError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def fedavg(parameters: Sequence[Sequence[np.ndarray]], weights: Sequence[float]) -> list:
    """FedAvg: the average of the clients' parameter lists weighted by ``weights`` (their example counts n_k).

    parameters: one list of arrays per client, all with the same shapes; weights: (n_clients,) >= 0, not all 0.
    Returns one list of float arrays: sum_k w_k / sum(w) * params_k.
    """
    w = np.asarray(weights, dtype=float)
    if len(parameters) != len(w) or len(w) == 0 or (w < 0).any() or w.sum() <= 0:
        raise ParameterError(f"fedavg: need one non-negative weight per client (not all zero), got {len(w)} weights "
                             f"for {len(parameters)} clients")
    shapes = [tuple(np.shape(a) for a in p) for p in parameters]
    if len(set(shapes)) != 1:
        raise ShapeError("fedavg: the clients' parameters do not have the same shapes")
    w = w / w.sum()
    return [sum(wk * np.asarray(p[i], dtype=np.float64) for wk, p in zip(w, parameters)).astype(np.float32)
            for i in range(len(parameters[0]))]


class MLP(nn.Module):
    """The notes' small classifier: Linear(d, hidden) -> ReLU -> Linear(hidden, k)."""

    def __init__(self, n_features: int, n_classes: int, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def get_parameters(model: nn.Module) -> list:
    """The model's parameters as a list of float32 numpy arrays (state_dict order)."""
    return [v.detach().cpu().numpy().astype(np.float32, copy=True) for v in model.state_dict().values()]


def set_parameters(model: nn.Module, parameters: Sequence[np.ndarray]) -> None:
    """Load a list made by :func:`get_parameters` into ``model`` (ShapeError when it does not fit)."""
    state = model.state_dict()
    if len(parameters) != len(state) or any(tuple(np.shape(p)) != tuple(v.shape)
                                            for p, v in zip(parameters, state.values())):
        raise ShapeError(f"the parameters do not fit this model: shapes {[tuple(np.shape(p)) for p in parameters]}, "
                         f"expected {[tuple(v.shape) for v in state.values()]} (same n_features, hidden, classes?)")
    model.load_state_dict({k: torch.as_tensor(np.asarray(p)) for k, p in zip(state, parameters)})


def noise_augment(sigma: float, drop: float = 0.0, scale=None) -> Augment:
    """A feature-space view: x + N(0, (sigma * scale)^2), then each feature zeroed with probability ``drop``.

    scale: (d,) float per-feature scale (e.g. the client's feature standard deviations), default 1.
    """
    factor = sigma * (torch.as_tensor(np.asarray(scale, dtype=np.float32)) if scale is not None else 1.0)

    def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = x + factor * torch.randn(x.shape, generator=generator)
        if drop > 0:
            out = out * (torch.rand(x.shape, generator=generator) >= drop)
        return out

    return augment


def sgd_momentum_step(parameters: Sequence[torch.Tensor], buffers: Sequence[torch.Tensor], *, lr: float,
                      momentum: float = 0.9) -> None:
    """One step of SGD with momentum, the update of ``torch.optim.SGD(lr=lr, momentum=momentum)`` written out.

    buffers: one zero tensor per parameter at the start (the momentum). Per parameter with a gradient:
    ``buf = momentum * buf + grad; p -= lr * buf``. torch.optim imports torch._dynamo on first use, seconds of
    start-up in every federated client process for a two-layer MLP.
    """
    with torch.no_grad():
        for param, buf in zip(parameters, buffers):
            if param.grad is not None:
                buf.mul_(momentum).add_(param.grad)
                param.add_(buf, alpha=-lr)


def local_update(model: nn.Module, X_l: np.ndarray, y_l: np.ndarray, X_u: np.ndarray, *,
                 pseudo_labels: str = "fedlabel", epochs: int = 2, lr: float = 0.05, batch_size: int = 32,
                 threshold: float = 0.95, lambda_u: float = 1.0, lambda_c: float = 1.0,
                 criterion: str = "max_prob", weak_augment: Optional[Augment] = None,
                 strong_augment: Optional[Augment] = None, seed: int = 0) -> dict:
    """One client's FedLabel round, in place on ``model`` (which holds the global weights when called).

    X_l: (n_l, d) float, y_l: (n_l,) int in [0, k), X_u: (n_u, d) float. Each step takes a batch of unlabelled rows
    and a batch of labelled rows (drawn with replacement) and minimises
    ``CE(f(x_l), y_l) + lambda_u * mean(mask * CE(f(strong(u)), y_hat)) + lambda_c * consistency``, where y_hat
    and mask come from :func:`select_expert_pseudo_labels` on the weak view (``pseudo_labels="fedlabel"``), from
    the frozen global copy alone ("global"), from the local model alone ("local"), and "none" trains on the labels
    only. The consistency term (:func:`global_local_consistency`) is used with "fedlabel" only. An epoch is
    ceil((n_l + n_u) / batch_size) steps whatever the arm, so every arm makes the same number of updates; labelled
    batches are drawn with replacement.
    SGD with momentum 0.9, reset every round. Returns statistics: steps, mask_rate (share of unlabelled rows
    above the threshold), local_share (share pseudo-labelled by the local model), loss (mean of the last epoch).
    """
    if pseudo_labels not in PSEUDO_LABELS:
        raise ParameterError(f"pseudo_labels must be one of {PSEUDO_LABELS}, got {pseudo_labels!r}")
    if len(X_l) == 0:
        raise ParameterError("local_update: a client needs at least one labelled row")
    generator = torch.Generator().manual_seed(int(seed))
    weak = weak_augment or (lambda x, g: x)
    strong = strong_augment or noise_augment(0.0)
    xl = torch.as_tensor(np.asarray(X_l, dtype=np.float32))
    yl = torch.as_tensor(np.asarray(y_l, dtype=np.int64))
    xu = torch.as_tensor(np.asarray(X_u, dtype=np.float32)).reshape(-1, xl.shape[1])
    use_unlabelled = pseudo_labels != "none" and len(xu) > 0
    teacher = copy.deepcopy(model).eval() if use_unlabelled else None
    if teacher is not None:
        for p in teacher.parameters():
            p.requires_grad_(False)
    parameters = [p for p in model.parameters() if p.requires_grad]
    momentum = [torch.zeros_like(p) for p in parameters]
    steps_per_epoch = max(1, int(np.ceil((len(xl) + len(xu)) / batch_size)))
    masked = local = seen = 0
    losses = []
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(xu), generator=generator)
        for step in range(steps_per_epoch):
            rows = order[(step * batch_size) % max(1, len(xu)):][:batch_size]
            lab = torch.randint(len(xl), (min(batch_size, len(xl)),), generator=generator)
            loss = F.cross_entropy(model(xl[lab]), yl[lab])
            if use_unlabelled:
                u = xu[rows]
                u_weak, u_strong = weak(u, generator), strong(u, generator)
                logits_weak = model(u_weak)
                p_loc = F.softmax(logits_weak.detach(), dim=1)
                with torch.no_grad():
                    p_glo = F.softmax(teacher(u_weak), dim=1)
                if pseudo_labels == "fedlabel":
                    y_hat, mask, source = select_expert_pseudo_labels(p_loc, p_glo, threshold=threshold,
                                                                      criterion=criterion)
                    local += int((source == 0).sum())
                else:
                    chosen = p_glo if pseudo_labels == "global" else p_loc
                    top, y_hat = chosen.max(dim=1)
                    mask = top >= threshold
                    local += len(rows) if pseudo_labels == "local" else 0
                masked += int(mask.sum())
                seen += len(rows)
                ce = F.cross_entropy(model(u_strong), y_hat, reduction="none")
                loss = loss + lambda_u * (ce * mask).mean()
                if pseudo_labels == "fedlabel" and lambda_c > 0:
                    loss = loss + lambda_c * global_local_consistency(logits_weak, p_loc, p_glo)
            for param in parameters:
                param.grad = None
            loss.backward()
            sgd_momentum_step(parameters, momentum, lr=lr)
            if epoch == epochs - 1:
                losses.append(float(loss.detach()))
    model.eval()
    return {"steps": epochs * steps_per_epoch, "mask_rate": masked / seen if seen else 0.0,
            "local_share": local / seen if seen else 0.0, "loss": float(np.mean(losses)) if losses else 0.0}


def _check_clients(clients) -> int:
    if not clients:
        raise ParameterError("FedLabelClassifier.fit: give at least one client")
    dims = set()
    for i, c in enumerate(clients):
        missing = {"X_l", "y_l", "X_u"} - set(c)
        if missing:
            raise ParameterError(f"client {i}: missing {sorted(missing)}; each client is a dict with X_l, y_l, X_u")
        X_l, X_u = np.asarray(c["X_l"]), np.asarray(c["X_u"])
        if X_l.ndim != 2 or len(X_l) != len(np.asarray(c["y_l"])) or len(X_l) == 0:
            raise ShapeError(f"client {i}: X_l must be (n_l, d) with n_l >= 1 and y_l (n_l,), got {X_l.shape} and "
                             f"{np.asarray(c['y_l']).shape}")
        dims.add(X_l.shape[1])
        if X_u.size:
            dims.add(X_u.reshape(len(X_u), -1).shape[1])
    if len(dims) != 1:
        raise ShapeError(f"the clients' features differ in width: {sorted(dims)}")
    return dims.pop()


class FedLabelClassifier:
    """FedLabel (Cho et al., ICCV 2023) simulated in-process: rounds of local FedLabel updates and FedAvg.

    ``pseudo_labels``: "fedlabel" (selective, with the consistency term weighted by ``lambda_c``), "global"
    (FixMatch with the global model's pseudo-labels), "local" (the local model's), "none" (FedAvg on labels only).
    Each round every client starts from the global model, runs :func:`local_update`, and the server averages the
    weights by the clients' example counts. ``classes`` fixes the label set (default: the labels seen by fit).

    fit(clients): clients is a list of dicts ``{"X_l": (n_l, d) float, "y_l": (n_l,) labels, "X_u": (n_u, d)}``.
    After fit: ``classes_``, ``model_`` (the global MLP), ``history_`` (one dict per round: mask_rate, local_share,
    and the accuracy on ``eval_set`` when given).
    """

    def __init__(self, *, hidden: int = 128, rounds: int = 40, local_epochs: int = 2, lr: float = 0.05,
                 batch_size: int = 32, threshold: float = 0.95, lambda_u: float = 1.0, lambda_c: float = 1.0,
                 pseudo_labels: str = "fedlabel", criterion: str = "max_prob", weak_augment: Optional[Augment] = None,
                 strong_augment: Optional[Augment] = None, classes=None, random_state: int = 0):
        self.hidden = hidden
        self.rounds = rounds
        self.local_epochs = local_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.threshold = threshold
        self.lambda_u = lambda_u
        self.lambda_c = lambda_c
        self.pseudo_labels = pseudo_labels
        self.criterion = criterion
        self.weak_augment = weak_augment
        self.strong_augment = strong_augment
        self.classes = classes
        self.random_state = random_state

    def fit(self, clients, eval_set=None) -> "FedLabelClassifier":
        """Train the global model over ``clients``; ``eval_set=(X, y)`` records the global accuracy per round."""
        if self.pseudo_labels not in PSEUDO_LABELS:
            raise ParameterError(f"pseudo_labels must be one of {PSEUDO_LABELS}, got {self.pseudo_labels!r}")
        n_features = _check_clients(clients)
        labels = np.concatenate([np.asarray(c["y_l"]) for c in clients])
        self.classes_ = np.unique(labels) if self.classes is None else np.asarray(self.classes)
        if len(set(self.classes_.tolist())) != len(self.classes_):
            raise ParameterError(f"classes holds duplicates: {self.classes_.tolist()[:10]}; give each label once")
        unknown = set(np.unique(labels).tolist()) - set(self.classes_.tolist())
        if unknown:
            raise ParameterError(f"labels {sorted(unknown)[:5]} are not in classes")
        index = {c: i for i, c in enumerate(self.classes_.tolist())}  # classes_ keeps the order given
        torch.manual_seed(self.random_state)
        self.model_ = MLP(n_features, len(self.classes_), self.hidden)
        global_params = get_parameters(self.model_)
        data = [(np.asarray(c["X_l"], dtype=np.float32),
                 np.asarray([index[v] for v in np.asarray(c["y_l"]).tolist()], dtype=np.int64),
                 np.asarray(c["X_u"], dtype=np.float32).reshape(-1, n_features)) for c in clients]
        self.history_ = []
        for rnd in range(self.rounds):
            results, weights, stats = [], [], []
            for k, (X_l, y_l, X_u) in enumerate(data):
                set_parameters(self.model_, global_params)
                stats.append(local_update(
                    self.model_, X_l, y_l, X_u, pseudo_labels=self.pseudo_labels, epochs=self.local_epochs,
                    lr=self.lr, batch_size=self.batch_size, threshold=self.threshold, lambda_u=self.lambda_u,
                    lambda_c=self.lambda_c, criterion=self.criterion, weak_augment=self.weak_augment,
                    strong_augment=self.strong_augment, seed=self.random_state * 1_000_003 + rnd * 1009 + k))
                results.append(get_parameters(self.model_))
                weights.append(len(X_l) + len(X_u))
            global_params = fedavg(results, weights)
            record = {"round": rnd + 1, "mask_rate": float(np.mean([s["mask_rate"] for s in stats])),
                      "local_share": float(np.mean([s["local_share"] for s in stats]))}
            set_parameters(self.model_, global_params)
            if eval_set is not None:
                record["accuracy"] = float(np.mean(self.predict(eval_set[0]) == np.asarray(eval_set[1])))
            self.history_.append(record)
        set_parameters(self.model_, global_params)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """X: (n, d) float -> (n, k) class probabilities of the global model (columns in ``classes_`` order)."""
        with torch.no_grad():
            return F.softmax(self.model_(torch.as_tensor(np.asarray(X, dtype=np.float32))), dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        """X: (n, d) float -> (n,) labels from ``classes_``."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
