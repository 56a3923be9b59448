"""Producing labels:

- ``annotate.py``: LLM annotation over a fixed label set, with calibrated label probabilities
  (``labelwise.generate.annotate.annotate``: the function shares its module's name, so the package does not
  re-export it);
- ``taxonomy.py``: a label taxonomy induced from raw text by an LLM (TnT-LLM phase 1): its prompts and grammar in
  ``taxonomy_prompts.py``, reading and repairing the model's categories in ``taxonomy_categories.py``, the
  :class:`Taxonomy` and its YAML file in ``taxonomy_yaml.py``; ``clusters.py`` is its clustering baseline and
  fallback;
- ``distill.py``: the LLM labels a sample with the taxonomy and a cheap classifier labels the rest (TnT-LLM
  phase 2); ``evaluate.py`` scores labels made without the truth against it;
- ``instructions.py`` and ``guide.py``: labelling guides with representative examples ("Thinking Like an
  Annotator");
- ``refined_labels.py``: the LAD teacher's refined pixel labels (probabilities and masks) saved as files;
- ``projection_baselines.py``: span labels moved onto a translation by exact, fuzzy (rapidfuzz) or embedding
  (MiniLM) matching, and ``span_f1``: the baselines Codec is compared with;
- ``transfer.py``: labels moved from a zero-shot text teacher to a student on other columns (CLIP2Scene).

Names load on first use, so importing one module of this package imports only what that module needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labelwise._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "Annotation": "labelwise.generate.annotate",
    "build_prompt": "labelwise.generate.annotate",
    "Category": "labelwise.generate.taxonomy_categories",
    "OTHER": "labelwise.generate.taxonomy_categories",
    "Taxonomy": "labelwise.generate.taxonomy_yaml",
    "induce_taxonomy": "labelwise.generate.taxonomy",
    "DistilledClassifier": "labelwise.generate.distill",
    "TaxonomyLabels": "labelwise.generate.distill",
    "label_with_taxonomy": "labelwise.generate.distill",
    "LabellingGuide": "labelwise.generate.guide",
    "labelling_guide": "labelwise.generate.guide",
    "RefinedLabels": "labelwise.generate.refined_labels",
    "refine_label_folder": "labelwise.generate.refined_labels",
    "save_refined_labels": "labelwise.generate.refined_labels",
    "project_embedding": "labelwise.generate.projection_baselines",
    "project_exact": "labelwise.generate.projection_baselines",
    "project_fuzzy": "labelwise.generate.projection_baselines",
    "span_f1": "labelwise.generate.projection_baselines",
    "TransferResult": "labelwise.generate.transfer",
    "transfer_labels": "labelwise.generate.transfer",
}, submodules=("annotate",))

if TYPE_CHECKING:
    from labelwise.generate import annotate
    from labelwise.generate.annotate import Annotation, build_prompt
    from labelwise.generate.distill import DistilledClassifier, TaxonomyLabels, label_with_taxonomy
    from labelwise.generate.guide import LabellingGuide, labelling_guide
    from labelwise.generate.projection_baselines import project_embedding, project_exact, project_fuzzy, span_f1
    from labelwise.generate.refined_labels import RefinedLabels, refine_label_folder, save_refined_labels
    from labelwise.generate.taxonomy import induce_taxonomy
    from labelwise.generate.taxonomy_categories import OTHER, Category
    from labelwise.generate.taxonomy_yaml import Taxonomy
    from labelwise.generate.transfer import TransferResult, transfer_labels
