"""The notes' FILTER experiment (paper 17, section 17.4), shared by the claim test and bench/filter_self_teaching.py.

Per seed: a training and a test split of :func:`labelwise.testing.parallel_tags.parallel_tags` (same language,
different sentences). Arms, all the same 4-layer, 64-wide network and budget: (1) translate-train, the target
encoded alone, trained on the projected target tags; (2) FILTER (m = 1, k = 1, alpha = 0) on the pairs with the
source's tags and the projected target tags; (3) FILTER + self-teaching (alpha = 0.5, tau = 1) with (2) as the
teacher; (ref) FILTER trained on the gold target tags, which the method never has: the ceiling at this budget.
Metric: exact-span F1 on the test targets against their gold tags. Also: how far (2) agrees with the projected
tags on the training targets (span F1), i.e. whether the teacher learned the projection's errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from labelwise.learn.fusion_encoder import FusionTagger
from labelwise.testing.parallel_tags import bio_span_f1, parallel_tags

ARMS = ("translate_train", "filter", "filter_self_teaching", "gold_ceiling")


@dataclass
class Config:
    n_train: int = 3000
    n_test: int = 500
    epochs: int = 5
    batch_size: int = 32
    lr: float = 2e-3
    projection: str = "position"
    alpha: float = 0.5
    temperature: float = 1.0
    self_teaching: bool = True
    ceiling: bool = True


def run_seed(seed: int, cfg: Config) -> dict[str, float]:
    train = parallel_tags(cfg.n_train, projection=cfg.projection, random_state=1000 + 2 * seed)
    test = parallel_tags(cfg.n_test, random_state=1001 + 2 * seed)

    def f1(model: FusionTagger, with_source: bool) -> float:
        pred = model.predict(test.source_ids if with_source else None, test.target_ids)
        return bio_span_f1(pred, test.gold_target_tags, test.tag_names)["f1"]

    common = dict(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, n_tags=len(train.tag_names),
                  random_state=seed)
    out = {"noise_rate": train.noise_rate,
           "projected_f1": bio_span_f1(train.projected_tags, train.gold_target_tags, train.tag_names)["f1"]}
    tt = FusionTagger(**common).fit(None, train.target_ids, None, train.projected_tags)
    out["translate_train"] = f1(tt, False)
    teacher = FusionTagger(**common).fit(train.source_ids, train.target_ids, train.source_tags, train.projected_tags)
    out["filter"] = f1(teacher, True)
    out["teacher_agrees_with_projection"] = bio_span_f1(teacher.predict(train.source_ids, train.target_ids),
                                                        train.projected_tags, train.tag_names)["f1"]
    if cfg.self_teaching:
        student = FusionTagger(alpha=cfg.alpha, temperature=cfg.temperature, teacher=teacher, **common).fit(
            train.source_ids, train.target_ids, train.source_tags, train.projected_tags)
        out["filter_self_teaching"] = f1(student, True)
    if cfg.ceiling:
        gold = FusionTagger(**common).fit(train.source_ids, train.target_ids, train.source_tags,
                                          train.gold_target_tags)
        out["gold_ceiling"] = f1(gold, True)
    return out
