"""Producing labels:

- ``annotate.py``: LLM annotation over a fixed label set, with calibrated label probabilities;
- ``taxonomy.py``: a label taxonomy induced from raw text by an LLM (TnT-LLM phase 1), ``clusters.py`` its
  clustering baseline and fallback;
- ``distill.py``: the LLM labels a sample with the taxonomy and a cheap classifier labels the rest (TnT-LLM
  phase 2); ``evaluate.py`` scores labels made without the truth against it;
- ``instructions.py`` and ``guide.py``: labelling guides with representative examples ("Thinking Like an
  Annotator").
"""

from labelwise.generate.annotate import Annotation, annotate, build_prompt
from labelwise.generate.distill import DistilledClassifier, TaxonomyLabels, label_with_taxonomy
from labelwise.generate.guide import LabellingGuide, labelling_guide
from labelwise.generate.taxonomy import Category, Taxonomy, induce_taxonomy

__all__ = ["Annotation", "annotate", "build_prompt", "Category", "Taxonomy", "induce_taxonomy",
           "DistilledClassifier", "TaxonomyLabels", "label_with_taxonomy", "LabellingGuide", "labelling_guide"]
