"""Every channel adapter, found in the modules of ``crossdesk.channels.kinds`` (adding a channel is adding
a module there)."""

from __future__ import annotations

import importlib
import pkgutil

from crossdesk.channels import kinds
from crossdesk.channels.adapter import Adapter, Rejected
from crossdesk.channels.models import ChannelAccount
from crossdesk.channels.service import view


def _discover() -> dict[str, Adapter]:
    found: dict[str, Adapter] = {}
    for info in pkgutil.iter_modules(kinds.__path__):
        module = importlib.import_module(f"{kinds.__name__}.{info.name}")
        for adapter in getattr(module, "ADAPTERS", ()):
            if adapter.kind in found:
                raise RuntimeError(f"two adapters of kind {adapter.kind!r}")
            found[adapter.kind] = adapter
    return found


ADAPTERS = _discover()


def adapter_of(kind: str) -> Adapter:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise Rejected("unknown channel kind", 404) from None


def sender_for(account: ChannelAccount) -> Adapter | None:
    """The adapter that sends replies through this account, if it is a known kind and set up to send."""
    adapter = ADAPTERS.get(account.kind)
    return adapter if adapter is not None and adapter.ready(view(account)) else None
