"""labelwise.data: read a user's labelled table, validate it, and encode its labels.

Workflow floor: takes paths or DataFrames, returns :class:`LabelledTable` / :class:`LabelColumn`. Every problem with
the input raises :class:`labelwise.errors.DataError` naming the file, row and column, and the fix.

Names load on first use, so ``import labelwise.data.atomic`` does not import pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labelwise._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "LabelColumn": "labelwise.data.labels",
    "LabelledTable": "labelwise.data.dataset",
    "Palette": "labelwise.data.images",
    "drop_and_add_labels": "labelwise.data.corruption",
    "encode_labels": "labelwise.data.labels",
    "flip_labels": "labelwise.data.corruption",
    "load_labelled_table": "labelwise.data.dataset",
    "load_nlupp": "labelwise.data.nlupp",
    "pair_folders": "labelwise.data.images",
    "read_image": "labelwise.data.images",
    "png_palette": "labelwise.data.images",
    "read_coco": "labelwise.data.coco_masks",
    "read_coco_boxes": "labelwise.data.boxes",
    "read_coco_predictions": "labelwise.data.boxes",
    "read_yolo_boxes": "labelwise.data.boxes",
    "read_mask": "labelwise.data.images",
    "read_matte": "labelwise.data.images",
    "read_pair": "labelwise.data.images",
    "read_palette": "labelwise.data.images",
    "read_table": "labelwise.data.io",
    "write_bytes_atomic": "labelwise.data.atomic",
    "write_coco_boxes": "labelwise.data.boxes",
    "write_yolo_boxes": "labelwise.data.boxes",
    "write_mask": "labelwise.data.images",
    "write_matte": "labelwise.data.images",
    "write_table_atomic": "labelwise.data.io",
    "write_text_atomic": "labelwise.data.atomic",
})

if TYPE_CHECKING:
    from labelwise.data.atomic import write_bytes_atomic, write_text_atomic
    from labelwise.data.boxes import (
        read_coco_boxes, read_coco_predictions, read_yolo_boxes, write_coco_boxes, write_yolo_boxes,
    )
    from labelwise.data.coco_masks import read_coco
    from labelwise.data.corruption import drop_and_add_labels, flip_labels
    from labelwise.data.dataset import LabelledTable, load_labelled_table
    from labelwise.data.images import (
        Palette, pair_folders, png_palette, read_image, read_mask, read_matte, read_pair, read_palette, write_mask,
        write_matte,
    )
    from labelwise.data.io import read_table, write_table_atomic
    from labelwise.data.labels import LabelColumn, encode_labels
    from labelwise.data.nlupp import load_nlupp
