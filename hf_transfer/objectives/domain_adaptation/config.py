"""Domain adaptation's recipe keys: the ``adaptation`` block (which alignment, its weight and λ schedule, the batch
mix) and the ``target_*`` keys naming the unlabelled target domain."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ...config.arguments import check_degrade, json_spec
from ...errors import RecipeError, did_you_mean, unknown_keys
from ...typed_values import coerce_fields
from ...wrappers.domain_adversarial import ALIGNMENTS

SCHEDULES = ("ganin", "constant", "linear")
PRIOR_CORRECTIONS = ("none", "em")


@dataclass
class AdaptationConfig:
    """Domain adaptation options; ``type`` is the method (dann, coral, mmd, mcc, udalm, adabn, source_only)."""

    type: str = field(
        default="dann",
        metadata={
            "help": "Method: dann (adversarial), coral, mmd (feature alignment), mcc (minimum class confusion on "
            "target predictions), fixmatch (images: weak/strong consistency on the target), udalm (masked-LM on target text beside the task), adabn (target batch-norm "
            "statistics), source_only (the baseline on the same batches)."
        },
    )
    domain_loss_weight: float = field(
        default=1.0, metadata={"help": "Weight of the domain term (dann, coral, mmd, mcc) in the total loss."}
    )
    mcc_temperature: float = field(
        default=2.5, metadata={"help": "mcc: softmax temperature of the target predictions."}
    )
    fixmatch_threshold: float = field(
        default=0.95,
        metadata={"help": "fixmatch: least confidence of a weak-view prediction used as a label."},
    )
    mlm_weight: float = field(
        default=1.0, metadata={"help": "udalm: weight of the masked-LM loss on target text."}
    )
    mlm_probability: float = field(
        default=0.15,
        metadata={"help": "udalm: share of target tokens masked (80 % [MASK], 10 % random, 10 % kept)."},
    )
    target_batch_norm: bool = field(
        default=False,
        metadata={
            "help": "Re-estimate every batch-norm layer's statistics on the target after training (AdaBN); "
            "always on for adabn."
        },
    )
    lambda_schedule: str = field(
        default="ganin",
        metadata={"help": "Gradient-reversal λ over training: ganin (2/(1+exp(−γp))−1), constant, linear."},
    )
    lambda_gamma: float = field(default=10.0, metadata={"help": "γ of the ganin schedule."})
    lambda_max: float = field(default=1.0, metadata={"help": "λ at the end of training (and of constant)."})
    source_fraction: float = field(
        default=0.5, metadata={"help": "Share of each training batch from the source."}
    )
    discriminator_layers: int = field(
        default=2, metadata={"help": "Hidden layers of the domain discriminator."}
    )
    discriminator_hidden: int = field(
        default=256, metadata={"help": "Width of the discriminator's hidden layers."}
    )
    discriminator_dropout: float = field(default=0.1, metadata={"help": "Dropout in the discriminator."})
    measure_domain_gap: bool = field(
        default=True,
        metadata={"help": "Measure the proxy A-distance and plot the features before and after."},
    )
    domain_gap_samples: int = field(
        default=1000,
        metadata={
            "help": "Rows per domain for the domain-gap measure (and target rows for the selection scores)."
        },
    )

    def __post_init__(self):
        if self.type not in ALIGNMENTS:
            raise RecipeError(
                f"adaptation: unknown type {self.type!r}.{did_you_mean(self.type, ALIGNMENTS)} "
                f"Use one of {', '.join(ALIGNMENTS)}."
            )
        if self.lambda_schedule not in SCHEDULES:
            raise RecipeError(
                f"adaptation: unknown lambda_schedule {self.lambda_schedule!r}; use {', '.join(SCHEDULES)}."
            )
        if not 0 < self.source_fraction < 1:
            raise RecipeError(f"adaptation: source_fraction must be in (0, 1), got {self.source_fraction}.")
        if self.domain_loss_weight < 0 or self.lambda_max < 0 or self.mlm_weight < 0:
            raise RecipeError("adaptation: domain_loss_weight, mlm_weight and lambda_max must be ≥ 0.")
        if not 0 < self.fixmatch_threshold < 1:
            raise RecipeError(
                f"adaptation: fixmatch_threshold must be in (0, 1), got {self.fixmatch_threshold}."
            )
        if self.mcc_temperature <= 0:
            raise RecipeError(f"adaptation: mcc_temperature must be > 0, got {self.mcc_temperature}.")
        if not 0 < self.mlm_probability < 1:
            raise RecipeError(f"adaptation: mlm_probability must be in (0, 1), got {self.mlm_probability}.")
        if self.type == "adabn":
            self.target_batch_norm = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_spec(cls, spec: str | dict[str, Any]) -> AdaptationConfig:
        """From a type name (``dann``) or a mapping; unknown options name the closest valid ones."""
        values = {"type": spec} if isinstance(spec, str) else dict(spec)
        valid = [f.name for f in dataclasses.fields(cls)]
        hints = unknown_keys(values, valid)
        if hints:
            raise RecipeError(f"Unknown adaptation option(s): {hints} Valid options: {', '.join(valid)}.")
        return cls(**coerce_fields(cls, values, "adaptation"))


@dataclass
class AdaptationArguments:
    """Domain adaptation: the recipe's data is the labelled source; the unlabelled target domain is set here."""

    adaptation: dict | str | None = field(
        default=None,
        metadata={
            "help": "Domain adaptation: a method (dann, coral, mmd, mcc, fixmatch, udalm, adabn, source_only) or a mapping "
            "with `type` and options (domain_loss_weight, lambda_schedule, source_fraction, mcc_temperature, "
            "mlm_weight, target_batch_norm, discriminator_*…); unset: none."
        },
    )
    target_dataset_name: str | None = field(
        default=None, metadata={"help": "The target domain: a built-in dataset, Hub id or local dataset dir."}
    )
    target_dataset_config_name: str | None = field(
        default=None, metadata={"help": "Config of the target dataset."}
    )
    target_train_file: str | None = field(
        default=None, metadata={"help": "Local target training file (unlabelled use)."}
    )
    target_test_file: str | None = field(
        default=None, metadata={"help": "Local target test file (labels for evaluation)."}
    )
    target_text_column: str | None = field(
        default=None, metadata={"help": "Target text column (default: text_column)."}
    )
    target_label_column: str | None = field(
        default=None,
        metadata={"help": "Target label column, used only for evaluation (default: label_column)."},
    )
    max_target_train_samples: int | None = field(
        default=None,
        metadata={
            "help": "Subsample the target's unlabelled train rows (seeded) to this size: what every adaptation "
            "loss, self-training round, AdaBN pass, prior correction and target-text mlm stage reads (default: "
            "all of them)."
        },
    )
    target_degrade: list[str] | None = field(
        default=None,
        metadata={
            "help": "Degrade the target's images (seeded): any of blur, low_light, noise, downsample, e.g. "
            "[blur, low_light] to adapt clean photos to blurry low-light ones (the target may be the source data)."
        },
    )
    target_degrade_severity: int = field(
        default=3, metadata={"help": "Severity of `target_degrade`, 1 (mild) to 5."}
    )
    prior_correction: str = field(
        default="none",
        metadata={
            "help": "Label-shift correction after training: em estimates the target's class priors from the "
            "model's (calibrated) target predictions (Saerens et al. 2002) and adds log(p_target / p_source) to "
            "the exported head's bias; none: off. Single-label classification only."
        },
    )
    prior_tolerance: float = field(
        default=0.1,
        metadata={
            "help": "prior_correction's guard: the correction is applied only if the EM priors and the "
            "confusion-matrix (BBSE) estimate agree within this much for every class."
        },
    )
    adaptation_config: AdaptationConfig | None = field(init=False, repr=False, default=None)

    def __post_init__(self):
        check_degrade(self.target_degrade, self.target_degrade_severity, "target_degrade")
        if self.prior_correction not in PRIOR_CORRECTIONS:
            raise RecipeError(
                f"prior_correction: unknown value {self.prior_correction!r}; use "
                f"{' or '.join(PRIOR_CORRECTIONS)}."
            )
        if self.max_target_train_samples is not None and self.max_target_train_samples < 2:
            raise RecipeError(
                f"`max_target_train_samples` must be at least 2 target rows (or unset for all of them), got "
                f"{self.max_target_train_samples}."
            )
        if not 0 < self.prior_tolerance <= 1:
            raise RecipeError(f"prior_tolerance must be in (0, 1], got {self.prior_tolerance}.")
        if self.prior_correction != "none" and self.adaptation is None:
            raise RecipeError(
                "prior_correction needs a target domain and an `adaptation` (use `adaptation: source_only` to "
                "correct a model trained on the source alone)."
            )
        has_target = bool(self.target_dataset_name or self.target_train_file)
        if self.max_target_train_samples is not None and not has_target:
            raise RecipeError(
                "`max_target_train_samples` caps the target domain's train rows, but no target is set: set "
                "`target_dataset_name` or `target_train_file`, or remove it."
            )
        if self.adaptation is None:
            if has_target:
                raise RecipeError(
                    "A target domain is set but no `adaptation`: add e.g. `adaptation: dann` (or coral, mmd, "
                    "source_only), or remove the target_* keys."
                )
            return
        self.adaptation_config = AdaptationConfig.from_spec(json_spec(self.adaptation, "adaptation"))
        self.adaptation = self.adaptation_config.to_dict()
        if not has_target:
            raise RecipeError(
                "`adaptation` needs a target domain: set `target_dataset_name` (e.g. sentiment_domains with "
                "target_dataset_config_name: amazon) or `target_train_file`."
            )
