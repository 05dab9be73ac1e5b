"""Vision unlearning benchmarks (SalUn / Unlearn-Sparse protocol): data, splits, models, metrics.

Registries and their entries, all in one place:

- ``vision.data.DATASETS``: fashion_mnist (vision.idx), digits (vision.digits), cifar10 and cifar100
  (vision.cifar).
- ``vision.models.MODELS``: resnet18, small_cnn.
- ``vision.metrics.METRICS``: accuracy, ua, ra, ta, mia_efficacy, avg_gap, rte.
- ``vision.methods.METHODS``: retrain, ft, ga, rl, l1_sparse, salun, scrub, graddiff, blur, ofmu — each
  maps the task to one ``ofmu_theory`` solver (see ``vision.methods``).

Unlearning and training: ``vision.objectives`` (losses of the model as functions of θ),
``vision.plan`` (a core run), ``vision.train`` (Original / Retrain, cached), ``vision.bench`` and
``vision.report`` (the bench and its Markdown / JSON / PNG), ``vision.cli`` (``ofmu vision``),
``vision.benchmark`` (OFMU against its target), ``vision.regenerate_docs`` (docs/vision-bench/).
"""

from vision import cifar, digits, idx  # noqa: F401  (register the dataset loaders)
from vision.data import DATASETS, ImageSet, VisionDataset, load_dataset, subsample
from vision.evaluate import EvalResult, evaluate, predict_proba
from vision.metrics import METRICS, MetricResult
from vision.models import MODELS, ModelSpec, build_model, load_model, save_model
from vision.splits import Split, make_split

__all__ = [
    "DATASETS", "METRICS", "MODELS", "EvalResult", "ImageSet", "MetricResult", "ModelSpec", "Split",
    "VisionDataset", "build_model", "evaluate", "load_dataset", "load_model", "make_split",
    "predict_proba", "save_model", "subsample",
]
