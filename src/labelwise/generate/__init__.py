"""Producing labels: LLM annotation with calibrated label probabilities (``annotate.py``); later, taxonomy
induction, distillation into a cheap classifier and labelling guides."""

from labelwise.generate.annotate import Annotation, annotate, build_prompt

__all__ = ["Annotation", "annotate", "build_prompt"]
