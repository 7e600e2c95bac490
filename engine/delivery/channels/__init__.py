"""Delivery channels: one small sender per channel behind the ``Sender`` interface, and their settings."""

from engine.delivery.channels.base import DeliveryResult, DeliveryStatus, OutboundMessage, Sender
from engine.delivery.channels.email import SmtpSender
from engine.delivery.channels.http import HttpProviderSender, parse_retry_after
from engine.delivery.channels.inbox import InboxSender
from engine.delivery.channels.pool import SenderPool
from engine.delivery.channels.sandbox import SandboxSender
from engine.delivery.channels.settings import ChannelSettings, ChannelSettingsError, build_senders
from engine.delivery.channels.webhook import WebhookSender

__all__ = [
    "ChannelSettings",
    "ChannelSettingsError",
    "DeliveryResult",
    "DeliveryStatus",
    "HttpProviderSender",
    "InboxSender",
    "OutboundMessage",
    "SandboxSender",
    "Sender",
    "SenderPool",
    "SmtpSender",
    "WebhookSender",
    "build_senders",
    "parse_retry_after",
]
