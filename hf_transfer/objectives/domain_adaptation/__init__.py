"""``domain_adaptation``: a wrapper objective aligning a labelled source domain with an unlabelled target.

Modules: ``config`` (the ``adaptation`` block and ``target_*`` keys), ``objective`` (the objective), ``mixing``
(source + target rows, the batch-mixing sampler), ``schedule`` (the λ callback), ``domain_gap`` (proxy
A-distance, the before / after picture), ``masking`` (UDALM's target masking), ``priors`` (label-shift
correction), ``selection`` (label-free selection scores).
"""

from .config import AdaptationArguments, AdaptationConfig
from .domain_gap import head_features, plot_domains, proxy_a_distance
from .mixing import DomainMixSampler, mix_domains
from .objective import DomainAdaptation
from .schedule import LambdaScheduleCallback, lambda_at

__all__ = [
    "AdaptationArguments",
    "AdaptationConfig",
    "DomainAdaptation",
    "DomainMixSampler",
    "LambdaScheduleCallback",
    "head_features",
    "lambda_at",
    "mix_domains",
    "plot_domains",
    "proxy_a_distance",
]
