"""Delivery channels: one small sender per channel behind the ``Sender`` interface, and their settings."""

from engine.delivery.channels.base import DeliveryResult, DeliveryStatus, OutboundMessage, Sender
from engine.delivery.channels.settings import ChannelSettings, ChannelSettingsError, build_senders

__all__ = [
    "ChannelSettings",
    "ChannelSettingsError",
    "DeliveryResult",
    "DeliveryStatus",
    "OutboundMessage",
    "Sender",
    "build_senders",
]
