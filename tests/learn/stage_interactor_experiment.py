"""The StageInteractor notes' toy experiment (paper 2, section 2.4), shared by the claim test and
``bench/stage_interactor.py``.

Shape scenes (48 x 48, 1-3 objects of 3 classes: square, ring, digit; training and test digits from disjoint
glyph pools), the toy query detector (:class:`labelwise.learn.query_detector.QueryDetector`) trained with each
assigner from the same initial network on the same batches (same seed), AP@0.5 and AP@[.5:.95] of the last stage
(COCO-style, :func:`labelwise.assign.box_metrics.detection_ap`) at the end and at intermediate iterations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

from labelwise.assign.box_metrics import detection_ap
from labelwise.learn.query_detector import QueryDetector
from labelwise.testing.box_scenes import BoxScenes, shape_scenes
from labelwise.testing.mosaics import split_digits

# arm name -> QueryDetector settings; "own_filtered" is the pitfall's control: own matches thresholded at IoU 0.5,
# nothing gathered from other stages (a gain of cross_stage over one_to_one that own_filtered also shows comes from
# the threshold, not from the other stages).
ARMS = {
    "one_to_one": dict(assigner="one_to_one"),
    "cross_stage": dict(assigner="cross_stage"),
    "own_filtered": dict(assigner="cross_stage", candidates="none"),
}


@dataclass(frozen=True)
class Data:
    train: BoxScenes
    test: BoxScenes


def scenes(n_train: int, n_test: int, seed: int) -> Data:
    """Training scenes drawn with ``seed`` from one digit pool, test scenes (fixed seed) from the other."""
    train_pool, test_pool = split_digits((0.67, 0.33), seed=0)
    return Data(shape_scenes(n_train, pool=train_pool, seed=1000 + seed),
                shape_scenes(n_test, pool=test_pool, seed=999))


def evaluate(detector: QueryDetector, test: BoxScenes, stage: int = -1) -> dict:
    boxes, scores, classes = detector.predict(test.images, stage=stage)
    return detection_ap(boxes, scores, classes, test.boxes, test.classes)


def run_arm(data: Data, arm: str, seed: int, *, max_iter: int, eval_at: tuple = (), batch_size: int = 16,
            log: Optional[Callable[[str], None]] = None) -> dict:
    """Train one arm; returns ``{"final": {AP, AP50, AP75}, "stages": [per-stage final AP dicts],
    "at": {iteration: {AP, AP50, AP75}}, "seconds": fit time}``."""
    at: dict = {}

    def callback(step: int, det: QueryDetector) -> None:
        if step in eval_at and step < max_iter:
            at[step] = evaluate(det, data.test)

    det = QueryDetector(**ARMS[arm], max_iter=max_iter, batch_size=batch_size, random_state=seed)
    start = time.perf_counter()
    det.fit(data.train.images, data.train.boxes, data.train.classes, callback=callback)
    seconds = time.perf_counter() - start
    stages = [evaluate(det, data.test, stage=s) for s in range(det.n_stages)]
    at[max_iter] = stages[-1]
    if log is not None:
        log(f"seed {seed} {arm}: AP {stages[-1]['AP']:.3f} AP50 {stages[-1]['AP50']:.3f} ({seconds:.0f} s)")
    return {"final": stages[-1], "stages": stages, "at": at, "seconds": seconds}
