"""The distribution client: pull and push images over the OCI distribution API, and log in.

from pycore.registry import RegistryOptions, pull, push
options = RegistryOptions.from_settings(settings)
result = pull(store, "127.0.0.1:5000/app:1", options)
"""

from __future__ import annotations

from pycore.registry.client import RegistryClient, RegistryOptions
from pycore.registry.events import Listener, TransferEvent
from pycore.registry.login import login, logout
from pycore.registry.pull import PullResult, ensure_image, parse_platform, pull
from pycore.registry.push import PushResult, push

__all__ = [
    "Listener",
    "PullResult",
    "PushResult",
    "RegistryClient",
    "RegistryOptions",
    "TransferEvent",
    "ensure_image",
    "login",
    "logout",
    "parse_platform",
    "pull",
    "push",
]
