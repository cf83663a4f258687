"""How far apart two domains are in a model's feature space: the proxy A-distance and a 2-D picture.

Proxy A-distance (Ben-David et al., 2007): train a linear classifier to tell source features from target
features on half of the rows, measure its error ``ε`` on the other half; ``d_A = 2 (1 − 2ε)``. 0 means the
domains are indistinguishable, 2 perfectly separable. The features are those the task head reads.

Example::

    >>> gap = proxy_a_distance(source_features, target_features)
    >>> 0.0 <= gap <= 2.0
    True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn

from ...wrappers.domain_adversarial import head_entry, pool_features
from .selection import model_batches


def proxy_a_distance(source: np.ndarray, target: np.ndarray, seed: int = 0) -> float:
    """``2 (1 − 2ε)`` with ``ε`` the held-out error of a logistic-regression domain classifier."""
    # scikit-learn is imported only to measure: `import hf_transfer` (and the built-in data) must not load it
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    features = np.concatenate([source, target])
    domains = np.concatenate([np.zeros(len(source)), np.ones(len(target))])
    x_train, x_test, y_train, y_test = train_test_split(
        features, domains, test_size=0.5, random_state=seed, stratify=domains
    )
    scaler = StandardScaler().fit(x_train)
    classifier = LogisticRegression(max_iter=2000).fit(scaler.transform(x_train), y_train)
    error = 1.0 - classifier.score(scaler.transform(x_test), y_test)
    return float(2.0 * (1.0 - 2.0 * error))


@torch.inference_mode()
def head_features(
    model: nn.Module, dataset, collator, batch_size: int = 128, progress: str | None = None
) -> np.ndarray:
    """The pooled features entering the task head, for every row of a tokenised (or image) dataset; ``progress``:
    a progress bar's description (None: no bar)."""
    captured: list[torch.Tensor] = []
    handle = head_entry(model).register_forward_pre_hook(lambda module, args: captured.append(args[0]))
    was_training = model.training
    model.eval()
    try:
        for batch in model_batches(model, dataset, collator, batch_size, progress):
            model(**batch)
    finally:
        handle.remove()
        model.train(was_training)
    return torch.cat([pool_features(f).float().cpu() for f in captured]).numpy()


def plot_domains(
    panels: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, names=("source", "target")
) -> None:
    """One PCA scatter per panel (e.g. before / after adaptation), source and target in two colours."""
    from sklearn.decomposition import PCA  # only when drawing (see proxy_a_distance)

    figure = Figure(figsize=(5 * len(panels), 4.5))  # drawn by Agg, outside pyplot (no global state)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)
    for axis, (title, (source, target)) in zip(axes[0], panels.items(), strict=True):
        points = PCA(n_components=2, random_state=0).fit_transform(np.concatenate([source, target]))
        axis.scatter(*points[: len(source)].T, s=6, alpha=0.5, label=names[0])
        axis.scatter(*points[len(source) :].T, s=6, alpha=0.5, label=names[1])
        axis.set_title(title)
        axis.set_xticks([])
        axis.set_yticks([])
        axis.legend(loc="best", markerscale=3)
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})
    figure.clear()
