"""Domain adaptation: recipe options, mixed source/target batches, the λ schedule, domain-gap measurement."""

from .callbacks import LambdaScheduleCallback, lambda_at
from .config import AdaptationConfig
from .data import DomainMixSampler, mix_domains
from .domain_gap import head_features, plot_domains, proxy_a_distance

__all__ = [
    "AdaptationConfig",
    "DomainMixSampler",
    "LambdaScheduleCallback",
    "head_features",
    "lambda_at",
    "mix_domains",
    "plot_domains",
    "proxy_a_distance",
]
