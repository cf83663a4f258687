"""Offline-first access to the Hugging Face Hub.

When the Hub cannot be reached (no network, or ``HF_HUB_OFFLINE=1``), hf_transfer switches the Hub client
libraries to offline mode once, so that every later lookup goes straight to local caches and installed
packages instead of retrying the network for half a minute per file.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from urllib.parse import urlparse

import datasets.config
import huggingface_hub.constants

logger = logging.getLogger(__name__)

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


@functools.lru_cache(maxsize=1)
def _endpoint_answers(timeout: float) -> bool:
    url = urlparse(huggingface_hub.constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub can be reached: False in offline mode or when its endpoint does not answer.

    Behind a proxy the direct probe says nothing, so the Hub is assumed reachable there.
    """
    if huggingface_hub.constants.is_offline_mode():
        return False
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return True
    return _endpoint_answers(timeout)


def go_offline_if_unreachable() -> bool:
    """Put huggingface_hub, transformers and datasets in offline mode when the Hub is unreachable.

    Returns True when working offline.
    """
    if huggingface_hub.constants.is_offline_mode():
        return True
    if hub_reachable():
        return False
    logger.warning(
        "The Hugging Face Hub (%s) cannot be reached: working offline from local files, caches and installed "
        "checkpoint packages. Set HF_HUB_OFFLINE=1 to skip this check.",
        huggingface_hub.constants.ENDPOINT,
    )
    os.environ["HF_HUB_OFFLINE"] = "1"
    huggingface_hub.constants.HF_HUB_OFFLINE = True
    try:
        datasets.config.HF_HUB_OFFLINE = True
        datasets.config.HF_DATASETS_OFFLINE = True
    except ImportError:  # pragma: no cover - datasets is a dependency
        pass
    return True
