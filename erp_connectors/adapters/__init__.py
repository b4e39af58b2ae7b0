"""One adapter per ERP. `get_adapter(kind, config)` returns the adapter for a connection."""

from erp_connectors.adapters.base import (
    Adapter,
    AdapterError,
    DeliveryResult,
    InboundOrder,
    OutboundMessage,
    get_adapter,
    register_adapter,
)

__all__ = [
    "Adapter",
    "AdapterError",
    "DeliveryResult",
    "InboundOrder",
    "OutboundMessage",
    "get_adapter",
    "register_adapter",
]
