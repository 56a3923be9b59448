"""LOKT: label-only model inversion by knowledge transfer, as an audit of what a label-only model leaks.

Seed paper 20: Nguyen, Chandrasegaran, Abdollahzadeh, Cheung, "Label-Only Model Inversion Attacks via Knowledge
Transfer" (NeurIPS 2023). An attacker who sees only a model's predicted labels trains a Target-model-assisted ACGAN
(T-ACGAN) on unlabelled public data: the discriminator's class head learns the target's hard labels on *generated*
samples (never on real public ones), and the generator learns to make samples of each of the target's classes.
Surrogate classifiers trained on generated samples labelled by the target, with the class head, then stand in
for the target in a white-box inversion: for each class, latent codes are optimised so that the generated samples
are that class under every surrogate (max-margin loss). An independent evaluation model trained on the private
data judges whether the reconstructions are recognisably of the class (attack accuracy).

CPU scale (``docs/privacy.md``): MLP generator, discriminator and surrogates on feature vectors, feature-space
Gaussian noise as the augmentation, a few thousand iterations. Baselines from the notes: *public pick* (the public
samples the target labels as the class, ranked by a naive surrogate's margin) and *naive surrogate* (a classifier
fit on public samples labelled by the target, inverted through an unconditional GAN prior trained for as long).

Arrays in, arrays out: the target is any callable ``target(X: (n, d) float) -> (n,) labels``; every call is counted
as ``n`` queries, and the attack stops at ``max_queries`` or ``max_seconds``, whichever comes first. torch is
imported inside the functions that need it (``pip install 'labelwise[learn]'``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from labelwise.errors import DataError, MissingExtraError, ParameterError, ShapeError

METHODS = ("lokt", "naive_surrogate", "public_pick")
DEFAULT_MAX_QUERIES = 200_000
DEFAULT_MAX_SECONDS = 300.0
MIN_PUBLIC_ROWS = 32  # fewer cannot train a generator


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise MissingExtraError("torch", "learn", "the label-only privacy audit (LOKT)") from exc
    return torch


class _BudgetSpent(Exception):
    """Internal: the next query would pass the query budget or the time bound (callers stop the stage)."""


class QueryBudget:
    """The target reached only through its hard labels, counted and bounded.

    target: ``target(X: (n, d) float) -> (n,) labels``; classes: (C,) the labels it can answer, in code order;
    max_queries: rows the target may be asked about in all; deadline: ``clock()`` value after which no query is sent;
    to_inputs: maps the rows asked about (e.g. the generator's scaled space) to the target's input units.
    Calling the budget returns the answers as codes ``(n,) int`` in ``[0, C)``; ``used`` counts the rows sent.
    """

    def __init__(self, target: Callable, classes: Sequence, max_queries: int, deadline: float,
                 clock: Callable[[], float] = time.monotonic, to_inputs: Optional[Callable] = None):
        self.target, self.classes, self.max_queries, self.deadline, self.clock = (
            target, list(classes), int(max_queries), float(deadline), clock)
        self.to_inputs = to_inputs or (lambda X: X)
        self._code = {c: i for i, c in enumerate(self.classes)}
        self._code.update({str(c): i for i, c in enumerate(self.classes)})
        self.used = 0

    def can(self, n: int) -> bool:
        return self.used + n <= self.max_queries and self.clock() < self.deadline

    def __call__(self, X: np.ndarray) -> np.ndarray:
        n = len(X)
        if not self.can(n):
            raise _BudgetSpent()
        self.used += n
        answers = np.asarray(self.target(np.asarray(self.to_inputs(X), dtype=np.float64)))
        if answers.shape != (n,):
            raise ShapeError(f"the target answered {answers.shape} labels for {n} rows; it must return one hard label "
                             "per row (an (n,) array or list).")
        codes = np.empty(n, dtype=np.int64)
        for i, a in enumerate(answers.tolist()):
            code = self._code.get(a, self._code.get(str(a)))
            if code is None:
                raise DataError(f"the target answered the label {str(a)[:60]!r}, which is not one of the private "
                                f"table's {len(self.classes)} classes; audit the model on the table it was trained on.")
            codes[i] = code
        return codes


class FeatureScaler:
    """Per-feature range of the public data, widened, mapped to [-1, 1] (the generator's tanh range).

    A feature constant in the public data gets a quarter of the median feature range on each side."""

    def fit(self, X: np.ndarray) -> "FeatureScaler":
        lo, hi = X.min(axis=0), X.max(axis=0)
        width = hi - lo
        pad = 0.25 * max(float(np.median(width)), 1e-6)
        self.lo_, self.hi_ = lo - pad, hi + pad
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (2.0 * (X - self.lo_) / (self.hi_ - self.lo_) - 1.0).astype(np.float32)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        return (np.asarray(Z, dtype=np.float64) + 1.0) / 2.0 * (self.hi_ - self.lo_) + self.lo_


def _mlp(torch, sizes: Sequence[int], *, spectral: bool = False, slope: float = 0.2):
    nn = torch.nn
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        linear = nn.Linear(a, b)
        layers += [nn.utils.parametrizations.spectral_norm(linear) if spectral else linear, nn.LeakyReLU(slope)]
    return nn.Sequential(*layers)


def _build(torch, d: int, n_classes: int, z_dim: int, hidden: int):
    """Generator ``G(z, onehot(y)) -> (n, d)`` in [-1, 1] (n_classes = 0: unconditional) and the two-headed
    discriminator (spectral-norm trunk, real/fake head, C-way class head)."""
    nn = torch.nn

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.n_classes = n_classes
            self.net = nn.Sequential(_mlp(torch, [z_dim + n_classes, hidden, hidden], slope=0.0),
                                     nn.Linear(hidden, d), nn.Tanh())

        def forward(self, z, y):
            if self.n_classes:
                z = torch.cat([z, nn.functional.one_hot(y, self.n_classes).float()], dim=1)
            return self.net(z)

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = _mlp(torch, [d, hidden, hidden], spectral=True)
            self.adv = nn.utils.parametrizations.spectral_norm(nn.Linear(hidden, 1))
            self.cls = nn.Linear(hidden, max(n_classes, 1))

        def forward(self, x):
            h = self.trunk(x)
            return self.adv(h).squeeze(1), self.cls(h)

    return Generator(), Discriminator()


@dataclass
class GanState:
    """A trained (T-)ACGAN: ``generator(z, y)``, ``class_head(x) -> logits``, how far it got."""

    generator: object
    class_head: Optional[Callable]
    iterations: int
    queries: int
    z_dim: int
    n_classes: int


def train_tacgan(X_public: np.ndarray, budget: Optional[QueryBudget], n_classes: int, *, z_dim: int = 16,
                 hidden: int = 128, alpha: float = 1.0, n_dis: int = 1, warmup_iters: int = 300, iters: int = 1500,
                 batch_size: int = 64, lr: float = 2e-4, betas=(0.0, 0.9), stop_at: float = float("inf"),
                 clock: Callable[[], float] = time.monotonic, reserve: int = 0, random_state: int = 0) -> GanState:
    """Train LOKT's T-ACGAN on scaled public rows ``X_public: (n, d) float`` in [-1, 1].

    Discriminator step: BCE(D_adv(x_pub), real) + BCE(D_adv(G(z, y)), fake) + alpha CE(D_cls(G(z, y)), T(G(z, y)))
    (the class head sees the target's hard labels on generated rows only); generator step: BCE(D_adv(G(z, y)), real)
    + alpha CE(D_cls(G(z, y)), y). alpha is 0 for the first ``warmup_iters`` (unconditional warm-up). ``budget``
    None (or ``n_classes`` 0): an unconditional GAN, no queries. Stops early when the budget (less ``reserve``
    queries kept for the surrogates) or ``stop_at`` (a ``clock()`` value) is reached.
    """
    torch = _torch()
    torch.manual_seed(random_state)
    rng = np.random.default_rng(random_state)
    conditional = budget is not None and n_classes > 0
    G, D = _build(torch, X_public.shape[1], n_classes if conditional else 0, z_dim, hidden)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    bce, ce = torch.nn.functional.binary_cross_entropy_with_logits, torch.nn.functional.cross_entropy
    real_rows = torch.from_numpy(np.asarray(X_public, dtype=np.float32))
    queries_before = budget.used if budget is not None else 0
    done = 0
    for it in range(iters):
        a = alpha if conditional and it >= warmup_iters else 0.0
        if clock() >= stop_at or (a and not budget.can(batch_size * n_dis + reserve)):
            break
        for _ in range(n_dis):
            real = real_rows[rng.integers(0, len(real_rows), batch_size)]
            z = torch.randn(batch_size, z_dim)
            y = torch.from_numpy(rng.integers(0, max(n_classes, 1), batch_size))
            with torch.no_grad():
                fake = G(z, y)
            adv_real, _ = D(real)
            adv_fake, cls_fake = D(fake)
            loss = bce(adv_real, torch.ones_like(adv_real)) + bce(adv_fake, torch.zeros_like(adv_fake))
            if a:
                try:
                    y_target = torch.from_numpy(budget(fake.numpy()))
                except _BudgetSpent:  # the deadline passed between two discriminator steps
                    break
                loss = loss + a * ce(cls_fake, y_target)
            opt_d.zero_grad()
            loss.backward()
            opt_d.step()
        z = torch.randn(batch_size, z_dim)
        y = torch.from_numpy(rng.integers(0, max(n_classes, 1), batch_size))
        adv, cls = D(G(z, y))
        loss = bce(adv, torch.ones_like(adv)) + (a * ce(cls, y) if a else 0.0)
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
        done = it + 1
    G.eval()
    D.eval()
    head = (lambda x: D(x)[1]) if conditional else None
    used = (budget.used - queries_before) if budget is not None else 0
    return GanState(G, head, done, used, z_dim, n_classes if conditional else 0)


def _augment(torch, x, noise: float):
    return x + noise * torch.randn_like(x)


def _fit_classifier(torch, X, y, n_classes: int, hidden: Sequence[int], *, epochs: int, noise: float, lr: float,
                    random_state: int, stop_at: float = float("inf"), clock: Callable[[], float] = time.monotonic):
    """An MLP trained with LOKT's surrogate loss: 1/2 CE(S(x), y) + 1/2 CE(S(aug(x)), y) (fewer epochs once
    ``clock()`` passes ``stop_at``)."""
    torch.manual_seed(random_state)
    nn = torch.nn
    net = nn.Sequential(_mlp(torch, [X.shape[1], *hidden], slope=0.0), nn.Linear(hidden[-1], n_classes))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64)
    g = torch.Generator().manual_seed(random_state)
    ce = nn.functional.cross_entropy
    for _ in range(epochs):
        if clock() >= stop_at:
            break
        for idx in torch.randperm(len(X), generator=g).split(64):
            loss = 0.5 * ce(net(X[idx]), y[idx]) + 0.5 * ce(net(_augment(torch, X[idx], noise)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    return net


SURROGATES = {"mlp": (128,), "mlp_wide": (256, 256)}


def train_surrogates(gan: GanState, budget: QueryBudget, *, n_per_class: int = 200,
                     models: Sequence[str] = ("mlp", "mlp_wide"), epochs: int = 30, noise: float = 0.1,
                     lr: float = 1e-3, stop_at: float = float("inf"), clock: Callable[[], float] = time.monotonic,
                     random_state: int = 0) -> list:
    """LOKT stage 2: ``n_per_class`` generated rows per class, labelled by the target (one query each; fewer when
    the budget is short), and one surrogate MLP per entry of ``models`` (:data:`SURROGATES`) trained on them.
    Returns the surrogates (callables ``x -> (n, C) logits``)."""
    torch = _torch()
    torch.manual_seed(random_state)
    C = gan.n_classes
    n = min(n_per_class * C, budget.max_queries - budget.used)
    if n < C or not budget.can(n):
        return []
    y = torch.arange(C).repeat_interleave(-(-n // C))[:n]
    with torch.no_grad():
        X = gan.generator(torch.randn(n, gan.z_dim), y)
    try:
        labels = budget(X.numpy())
    except _BudgetSpent:  # the deadline passed since the check above
        return []
    return [_fit_classifier(torch, X, labels, C, SURROGATES[m], epochs=epochs, noise=noise, lr=lr,
                            random_state=random_state + i, stop_at=stop_at, clock=clock) for i, m in enumerate(models)]


def margin_loss(torch, logits, y):
    """Max-margin inversion loss per row: -logit_y + max_{k != y} logit_k."""
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.masked_fill(torch.nn.functional.one_hot(y, logits.shape[1]).bool(), float("-inf")).amax(1)
    return other - true


def invert_classes(generator, z_dim: int, surrogates: Sequence[Callable], classes: Sequence[int], *,
                   n_seeds: int = 5, steps: int = 300, lr: float = 0.1, noise: float = 0.1, clip: float = 3.0,
                   conditional: bool = True, stop_at: float = float("inf"), clock: Callable[[], float] = time.monotonic,
                   random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """LOKT stage 3: white-box inversion on the surrogates with the generator as prior.

    For each class y, ``n_seeds`` codes z minimise the surrogates' mean max-margin loss on two noisy views of
    ``G(z, y)`` (Adam, ``steps`` or until ``clock()`` passes ``stop_at``, z clipped to [-clip, clip]).
    ``conditional`` False: the generator ignores y (the naive baseline's unconditional prior).
    Returns ``(X_rec: (len(classes) * n_seeds, d) in the scaled space, y_rec: (len(classes) * n_seeds,) int)``.
    """
    torch = _torch()
    torch.manual_seed(random_state)
    for param in generator.parameters():
        param.requires_grad_(False)
    y = torch.as_tensor(np.repeat(np.asarray(classes, dtype=np.int64), n_seeds))  # every class's codes at once
    y_in = y if conditional else torch.zeros_like(y)
    z = torch.randn(len(y), z_dim).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        if clock() >= stop_at:
            break
        x = generator(z, y_in)
        loss = sum(margin_loss(torch, s(_augment(torch, x, noise)), y).mean()
                   + margin_loss(torch, s(_augment(torch, x, noise)), y).mean() for s in surrogates)
        opt.zero_grad()
        (loss / len(surrogates)).backward()
        opt.step()
        with torch.no_grad():
            z.clamp_(-clip, clip)
    with torch.no_grad():
        return generator(z, y_in).numpy(), y.numpy()


@dataclass
class InversionScore:
    """One attack's leakage. attack_accuracy: share of reconstructions the evaluation model puts in their class;
    distance_to_class_mean / distance_to_nearest: mean Euclidean distance (input units) of a reconstruction to its
    private class's mean and to the class's nearest private row; queries: target queries the attack used."""

    method: str
    attack_accuracy: float
    distance_to_class_mean: float
    distance_to_nearest: float
    queries: int
    reconstructions: np.ndarray = field(repr=False)
    classes: np.ndarray = field(repr=False)

    def to_dict(self) -> dict:
        return {"method": self.method, "attack_accuracy": self.attack_accuracy,
                "distance_to_class_mean": self.distance_to_class_mean,
                "distance_to_nearest": self.distance_to_nearest, "queries": self.queries}


def inversion_metrics(method: str, X_rec: np.ndarray, y_rec: np.ndarray, evaluate: Callable, X_private: np.ndarray,
                      y_private: np.ndarray, queries: int) -> InversionScore:
    """Score reconstructions ``X_rec: (m, d)`` meant as classes ``y_rec: (m,) int`` with an independent evaluation
    model ``evaluate(X) -> (m,) int codes`` and the private rows ``X_private: (n, d)``, ``y_private: (n,) int``."""
    accuracy = float(np.mean(np.asarray(evaluate(X_rec)) == y_rec)) if len(y_rec) else 0.0
    to_mean, to_nearest = [], []
    for c in np.unique(y_rec):
        rows, rec = X_private[y_private == c], X_rec[y_rec == c]
        if not len(rows):
            continue
        to_mean.append(np.linalg.norm(rec - rows.mean(axis=0), axis=1))
        to_nearest.append(np.sqrt(((rec[:, None, :] - rows[None, :, :]) ** 2).sum(-1)).min(axis=1))
    return InversionScore(method, accuracy, float(np.concatenate(to_mean).mean()) if to_mean else float("nan"),
                          float(np.concatenate(to_nearest).mean()) if to_nearest else float("nan"), int(queries),
                          X_rec, y_rec)


def public_pick(X_public: np.ndarray, public_labels: np.ndarray, margins: np.ndarray, classes: Sequence[int],
                n_seeds: int) -> tuple[np.ndarray, np.ndarray]:
    """The label-only baseline without synthesis: for each class, the ``n_seeds`` public rows the target labels as
    that class with the highest naive-surrogate margin ``margins: (n, C)`` (rows of other labels fill up a class the
    target never answers). Returns ``(X: (len(classes) * n_seeds, d), y)``."""
    picked, ys = [], []
    for c in classes:
        score = margins[:, c] + np.where(public_labels == c, 1e9, 0.0)
        picked.append(X_public[np.argsort(-score, kind="stable")[:n_seeds]])
        ys.append(np.full(min(n_seeds, len(X_public)), int(c)))
    return np.concatenate(picked), np.concatenate(ys)


@dataclass
class InversionAudit:
    """What a label-only attacker reconstructs: one :class:`InversionScore` per method (``lokt``,
    ``naive_surrogate``, ``public_pick``), chance accuracy (1 / classes), what stopped the T-ACGAN stage
    (``iterations``, ``queries`` or ``time``; the later stages stop at their share of the time), its settings."""

    scores: dict
    chance: float
    n_classes: int
    stopped_by: str
    gan_iterations: int
    seconds: float
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"chance": self.chance, "n_classes": self.n_classes, "stopped_by": self.stopped_by,
                "gan_iterations": self.gan_iterations, "seconds": self.seconds, "settings": dict(self.settings),
                "methods": {m: s.to_dict() for m, s in self.scores.items()}}

    def lines(self) -> list[str]:
        """The leakage in a few sentences (CLI and report)."""
        lokt = self.scores["lokt"]
        best = max((s for m, s in self.scores.items() if m != "lokt"), key=lambda s: s.attack_accuracy)
        out = [f"label-only inversion (LOKT): attack accuracy {lokt.attack_accuracy:.1%} (chance {self.chance:.1%}) "
               f"with {lokt.queries:,} label queries; best baseline {best.method} {best.attack_accuracy:.1%} "
               f"({best.queries:,} queries)"]
        out += [f"  {s.method}: accuracy {s.attack_accuracy:.1%}, distance to class mean "
                f"{s.distance_to_class_mean:.3g}, to nearest private row {s.distance_to_nearest:.3g}, "
                f"{s.queries:,} queries" for s in self.scores.values()]
        out.append(f"  stopped by: {self.stopped_by}; {self.gan_iterations} GAN iterations in {self.seconds:.0f} s")
        return out


def default_evaluator(X_private: np.ndarray, y_private: np.ndarray, random_state: int = 0) -> Callable:
    """The independent evaluation model: an RBF SVM on standardised features, fit on the private rows."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    model = make_pipeline(StandardScaler(), SVC(random_state=random_state)).fit(X_private, y_private)
    return model.predict


def label_only_inversion(target: Callable, X_public: np.ndarray, X_private: np.ndarray, y_private: np.ndarray, *,
                         classes: Optional[Sequence] = None, evaluate: Optional[Callable] = None,
                         max_queries: int = DEFAULT_MAX_QUERIES, max_seconds: float = DEFAULT_MAX_SECONDS,
                         n_seeds: int = 5, iters: int = 800, warmup_iters: int = 200, n_dis: int = 1,
                         batch_size: int = 64, alpha: float = 1.0, z_dim: int = 16, hidden: int = 128,
                         lr: float = 1e-3, n_per_class: int = 200, surrogate_epochs: int = 30,
                         inversion_steps: int = 300,
                         clock: Callable[[], float] = time.monotonic, random_state: int = 0) -> InversionAudit:
    """Audit a classifier reached only through its hard labels with LOKT and the notes' two baselines.

    target: ``target(X: (n, d) float) -> (n,) labels`` (the labels in ``classes``; the only access to the model).
    X_public: (n_pub, d) float, unlabelled rows of the same kind the attacker could hold (not the training rows).
    X_private: (n, d) float, y_private: (n,) int codes in [0, C): the model's training rows (used only to judge the
    attack: the evaluation model and the distances; never shown to the attack).
    classes: (C,) the target's labels in code order (default ``range(C)``); evaluate: ``X -> (m,) codes``, the
    independent evaluation model (default :func:`default_evaluator` on the private rows).
    max_queries / max_seconds: the attack stops at either (the baselines' queries count too); iters, warmup_iters,
    n_dis, batch_size, alpha, z_dim, hidden, lr: T-ACGAN; n_per_class, surrogate_epochs: surrogates; n_seeds,
    inversion_steps: codes optimised per class.
    """
    X_public, X_private = np.asarray(X_public, dtype=np.float64), np.asarray(X_private, dtype=np.float64)
    y_private = np.asarray(y_private)
    if X_public.ndim != 2 or X_private.ndim != 2 or X_public.shape[1] != X_private.shape[1]:
        raise ShapeError(f"public and private rows must be 2-D with the same columns; got {X_public.shape} and "
                         f"{X_private.shape}.")
    if len(y_private) != len(X_private) or not np.issubdtype(y_private.dtype, np.integer):
        raise ShapeError("y_private must hold one integer class code per private row.")
    if len(X_public) < MIN_PUBLIC_ROWS or not np.isfinite(X_public).all() or not np.isfinite(X_private).all():
        raise DataError(f"the public and private rows must be finite numbers, and the public data at least "
                        f"{MIN_PUBLIC_ROWS} rows; got {len(X_public)} public rows.")
    if max_queries < 2 * MIN_PUBLIC_ROWS or max_seconds <= 0 or n_seeds < 1:
        raise ParameterError(f"max_queries must be at least {2 * MIN_PUBLIC_ROWS}, max_seconds and n_seeds positive; "
                             f"got {max_queries}, {max_seconds}, {n_seeds}.")
    n_classes = len(classes) if classes is not None else int(y_private.max()) + 1
    classes = list(classes) if classes is not None else list(range(n_classes))
    start = clock()

    def at(share: float) -> float:  # the clock value by which a stage stops
        return start + share * max_seconds

    evaluate = evaluate or default_evaluator(X_private, y_private, random_state)
    scaler = FeatureScaler().fit(X_public)
    budget = QueryBudget(target, classes, max_queries, start + max_seconds, clock, scaler.inverse_transform)
    P = scaler.transform(X_public)
    codes = range(n_classes)
    torch = _torch()
    with torch.random.fork_rng():
        # the baselines' shared cost: the target's labels on the public rows, and a naive surrogate fit on them
        n_pub = min(len(P), budget.max_queries // 2)
        try:
            public_labels = budget(P[:n_pub])
        except _BudgetSpent:
            raise DataError(f"the privacy audit's time bound ({max_seconds:g} s) passed before its first label query "
                            "(fitting the evaluation model); raise max_seconds (--privacy-seconds).") from None
        naive = _fit_classifier(torch, P[:n_pub], public_labels, n_classes, SURROGATES["mlp"], epochs=surrogate_epochs,
                                noise=0.1, lr=1e-3, random_state=random_state, stop_at=at(0.1), clock=clock)
        with torch.no_grad():
            margins = naive(torch.from_numpy(P[:n_pub])).numpy()
        # LOKT: T-ACGAN, surrogates, inversion; each stage stops at its share of max_seconds
        gan = train_tacgan(P, budget, n_classes, z_dim=z_dim, hidden=hidden, alpha=alpha, n_dis=n_dis,
                           warmup_iters=warmup_iters, iters=iters, batch_size=batch_size, lr=lr, stop_at=at(0.45),
                           clock=clock, reserve=n_per_class * n_classes, random_state=random_state)
        stopped_by = "iterations" if gan.iterations == iters else "time" if clock() >= at(0.45) else "queries"
        surrogates = train_surrogates(gan, budget, n_per_class=n_per_class, epochs=surrogate_epochs, stop_at=at(0.55),
                                      clock=clock, random_state=random_state)
        X_lokt, y_lokt = invert_classes(gan.generator, z_dim, [gan.class_head, *surrogates], codes, n_seeds=n_seeds,
                                        steps=inversion_steps, stop_at=at(0.7), clock=clock, random_state=random_state)
        # naive surrogate through an unconditional prior trained as long, without queries
        prior = train_tacgan(P, None, 0, z_dim=z_dim, hidden=hidden, iters=gan.iterations, batch_size=batch_size, lr=lr,
                             stop_at=at(0.9), clock=clock, random_state=random_state)
        X_naive, y_naive = invert_classes(prior.generator, z_dim, [naive], codes, n_seeds=n_seeds,
                                          steps=inversion_steps, conditional=False, stop_at=at(1.0), clock=clock,
                                          random_state=random_state)
    X_pick, y_pick = public_pick(X_public[:n_pub], public_labels, margins, codes, n_seeds)
    scores = {
        "lokt": inversion_metrics("lokt", scaler.inverse_transform(X_lokt), y_lokt, evaluate, X_private, y_private,
                                  budget.used - n_pub),
        "naive_surrogate": inversion_metrics("naive_surrogate", scaler.inverse_transform(X_naive), y_naive, evaluate,
                                             X_private, y_private, n_pub),
        "public_pick": inversion_metrics("public_pick", X_pick, y_pick, evaluate, X_private, y_private, n_pub),
    }
    settings = {"max_queries": max_queries, "max_seconds": max_seconds, "iters": iters, "warmup_iters": warmup_iters,
                "n_dis": n_dis, "batch_size": batch_size, "alpha": alpha, "lr": lr, "z_dim": z_dim, "hidden": hidden,
                "n_per_class": n_per_class, "surrogate_epochs": surrogate_epochs, "n_seeds": n_seeds,
                "inversion_steps": inversion_steps, "surrogates": 1 + len(surrogates), "public_rows": n_pub,
                "random_state": random_state}
    return InversionAudit(scores, 1.0 / n_classes, n_classes, stopped_by, gan.iterations, clock() - start, settings)
