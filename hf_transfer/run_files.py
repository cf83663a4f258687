"""The names of what a run writes into its output folder, declared once for every module that reads or writes them.

A run folder holds the exported model (``config.json`` + ``model.safetensors``, or an adapter), its tokenizer or
image processor, and these files. ``metrics.json`` records ``format_version`` and the run's ``objective``, which
cards, reports, ``evaluate`` and ``predict`` dispatch on.
"""

RECIPE_FILE = "recipe.yaml"  # the resolved recipe (secrets never written)
METRICS_FILE = "metrics.json"  # metrics per split, objective, strategy, parameters, stages
METRICS_FORMAT_VERSION = 2  # 1: before `objective` was recorded (objective inferred from the keys)
PREDICTIONS_FILE = "predictions_test.jsonl"  # one JSON line per test row
MODEL_CARD_FILE = "README.md"  # the model card
MERGED_DIR = "merged"  # an adapter merged into its base model, when the strategy asks
GAP_PLOT = "domain_gap.png"  # source vs target features before / after domain adaptation
LOSS_PLOT = "loss_curves.png"
CONFUSION_PLOT = "confusion_matrix.png"  # confusion_matrix_<task>.png per task of a multi-task model
RUN_MARKER = ".hf_transfer_run"  # written when a run claims its folder: only marked folders are ever deleted
TRAINING_ARGS_JSON = "training_args.json"  # the TrainingArguments as JSON (never a pickle)
STATE_FILE = "trainer_state.json"  # transformers' Trainer state (log history)
ADAPTER_CONFIG_FILE = "adapter_config.json"  # a PEFT adapter folder
MODEL_CONFIG_FILE = "config.json"
STAGES_DIR = "stages"  # stages/<n>-<name>/ of a multi-stage recipe
COMPARISON_CARD_FILE = "comparison.md"  # a compared run's comparison table (`hf-transfer compare`), shown in its card
