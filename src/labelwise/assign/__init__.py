"""Coarse labels -> training targets for vision: masks -> mattes, boxes -> detection targets (the ``vision`` extra
for images; the learned parts need torch too).

- :mod:`labelwise.assign.matting_metrics`: SAD, MSE, MAD, Grad and Conn as in ZIM's evaluation code (numpy);
- :mod:`labelwise.assign.matte_baselines`: untrained mask -> matte converters: feathering, the guided filter,
  closed-form matting (numpy / scipy / pymatting);
- :mod:`labelwise.assign.matte_converter`: ZIM's learned label converter with SGA and STL (torch; paper 1);
- :mod:`labelwise.assign.matte_blending`: MLB's matte label blending and its two-stage teacher/student recipe
  (numpy; torch for training; paper 28);
- :mod:`labelwise.assign.procedural_mattes`: procedural images with exactly known mattes (training data for the
  converter when a user has none, and the experiments' data);
- :mod:`labelwise.assign.box_geometry`: box formats, IoU, GIoU and oriented boxes (numpy), for the box-label
  assigners and the box audit;
- :mod:`labelwise.assign.hungarian`: the matching cost (focal + L1 + GIoU) and one-to-one Hungarian assignment of
  query-based detectors (numpy / scipy);
- :mod:`labelwise.assign.stage_interactor`: StageInteractor's cross-stage class-label assignment and its multi-hot
  sigmoid focal loss (numpy; torch for the loss; paper 2); the toy detector that checks it is
  :mod:`labelwise.learn.query_detector`;
- :mod:`labelwise.assign.box_metrics`: COCO-style detection AP for axis-aligned or oriented boxes;
- :mod:`labelwise.assign.gaussian_heatmap`: GGHL's oriented Gaussian heatmap label assignment (OLA), ORC box
  encoding, the centre-point baseline and the JOL loss (numpy; torch for the loss; paper 33);
- :mod:`labelwise.assign.chart_keypoints`: ChartReader's chart key points as Gaussian heatmap targets with offsets,
  peak decoding, axis calibration and bars from grouped key points (numpy; paper 15);
- :mod:`labelwise.assign.folders`: a folder of images and masks -> a folder of matte PNGs (the ``labelwise convert``
  workflow).

Importing this package imports none of them (no torch): import the module you need.
"""
