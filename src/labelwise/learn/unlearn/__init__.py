"""Machine unlearning: remove a set of training rows (or a whole class) from a trained classifier.

- :mod:`~labelwise.learn.unlearn.laf`: Label-Agnostic Forgetting (Shen et al., ICLR 2024), which needs no labels:
  :class:`LabelAgnosticForgetting` (``fit_transform(model, X_forget, X_remain)``, ``refit_head`` for LAF+R).
- :mod:`~labelwise.learn.unlearn.baselines`: retraining without the rows, fine-tuning on the rest, gradient ascent,
  random relabelling, pseudo-label fine-tuning.
- :mod:`~labelwise.learn.unlearn.metrics`: accuracies and a membership-inference check (:func:`unlearning_report`).
- :mod:`~labelwise.learn.unlearn.model`: :class:`SplitMLP` (encoder + head) and the shared training loop.

Any ``torch.nn.Module`` whose logits are ``head(extractor(x))`` works: name the two parts by attribute.
"""

from labelwise.learn.unlearn.baselines import (finetune, gradient_ascent, pseudo_label_finetune, random_labels,
                                               retrain)
from labelwise.learn.unlearn.laf import (LabelAgnosticForgetting, RepresentationVAE, alignment_loss,
                                         extractor_unlearning_loss, fit_vae, psi)
from labelwise.learn.unlearn.metrics import UnlearningReport, membership_inference, unlearning_report
from labelwise.learn.unlearn.model import SplitMLP, fit_classifier, predict_proba, reinitialise

__all__ = ["LabelAgnosticForgetting", "RepresentationVAE", "SplitMLP", "UnlearningReport", "alignment_loss",
           "extractor_unlearning_loss", "finetune", "fit_classifier", "fit_vae", "gradient_ascent",
           "membership_inference", "predict_proba", "pseudo_label_finetune", "psi", "random_labels", "reinitialise",
           "retrain", "unlearning_report"]
