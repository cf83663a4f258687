"""Run reports, from a run folder's saved files: reading them (:mod:`.reading`), PNG plots (:mod:`.plots`) and a
plain-text summary (:mod:`.tables`)."""

from .plots import confusion_plot_name, plot_confusion_matrix, plot_loss_curves, write_run_report
from .reading import confusion_counts, confusion_matrices, read_metrics, read_predictions, trainer_state
from .tables import summary_table

__all__ = [
    "confusion_counts",
    "confusion_matrices",
    "confusion_plot_name",
    "plot_confusion_matrix",
    "plot_loss_curves",
    "read_metrics",
    "read_predictions",
    "summary_table",
    "trainer_state",
    "write_run_report",
]
