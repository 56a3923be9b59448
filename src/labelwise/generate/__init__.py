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
- ``transfer.py``: labels moved from a zero-shot text teacher to a student on other columns (CLIP2Scene);
- ``extraction.py``: fields read from documents by an LLM teacher with task-aware schema prompts and a token
  tagger distilled from it (TAIL): value normalisation and ANLS in ``field_values.py``, the tagger in
  ``span_student.py``;
- ``attribute_values.py``: product attribute values for rows without them, values no row has included (HyperPAVE);
- ``projection.py``: span labels moved onto translations (Codec), by the constrained marker search of
  ``marker_search.py`` over a sequence scorer (``labelwise.llm.sequence_scorer``); ``projection_baselines.py``:
  exact, fuzzy (rapidfuzz) and embedding (MiniLM) matching and ``span_f1``, the baselines Codec is compared with;
- ``charts.py``: chart images -> tables with a learned or a column-scan derenderer, the relaxed cell accuracy, and
  data-variable replacement between a text and a table's cells (ChartReader);
- ``select.py``: which rows to label next (least confidence, margin, entropy, k-center, random, and Robust Active
  Distillation's robust sampling), ``active_distill.py`` the RAD rounds with a teacher, ``next_rows.py`` the same
  selection on a table (``labelwise select``).

Names load on first use, so importing one module of this package imports only what that module needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labelwise._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "Annotation": "labelwise.generate.annotate",
    "AttributeValueResult": "labelwise.generate.attribute_values",
    "extract_attribute_values": "labelwise.generate.attribute_values",
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
    "ExtractionResult": "labelwise.generate.extraction",
    "TaskAwareLabeler": "labelwise.generate.extraction",
    "extract_fields": "labelwise.generate.extraction",
    "SpanExtractorStudent": "labelwise.generate.span_student",
    "ProjectionResult": "labelwise.generate.projection",
    "project_spans": "labelwise.generate.projection",
    "project_table": "labelwise.generate.projection",
    "constrained_marker_search": "labelwise.generate.marker_search",
    "ColumnScanDerenderer": "labelwise.generate.charts",
    "DataVariableReplacer": "labelwise.generate.charts",
    "derender_charts": "labelwise.generate.charts",
    "relaxed_cell_accuracy": "labelwise.generate.charts",
    "select_next": "labelwise.generate.select",
    "RobustActiveDistiller": "labelwise.generate.active_distill",
    "NextRows": "labelwise.generate.next_rows",
}, submodules=("annotate",))

if TYPE_CHECKING:
    from labelwise.generate import annotate
    from labelwise.generate.annotate import Annotation, build_prompt
    from labelwise.generate.attribute_values import AttributeValueResult, extract_attribute_values
    from labelwise.generate.charts import (ColumnScanDerenderer, DataVariableReplacer, derender_charts,
                                           relaxed_cell_accuracy)
    from labelwise.generate.distill import DistilledClassifier, TaxonomyLabels, label_with_taxonomy
    from labelwise.generate.guide import LabellingGuide, labelling_guide
    from labelwise.generate.marker_search import constrained_marker_search
    from labelwise.generate.projection import ProjectionResult, project_spans, project_table
    from labelwise.generate.projection_baselines import project_embedding, project_exact, project_fuzzy, span_f1
    from labelwise.generate.refined_labels import RefinedLabels, refine_label_folder, save_refined_labels
    from labelwise.generate.taxonomy import induce_taxonomy
    from labelwise.generate.taxonomy_categories import OTHER, Category
    from labelwise.generate.taxonomy_yaml import Taxonomy
    from labelwise.generate.extraction import ExtractionResult, TaskAwareLabeler, extract_fields
    from labelwise.generate.span_student import SpanExtractorStudent
    from labelwise.generate.select import select_next
    from labelwise.generate.active_distill import RobustActiveDistiller
    from labelwise.generate.next_rows import NextRows
    from labelwise.generate.transfer import TransferResult, transfer_labels
