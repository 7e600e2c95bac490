"""Delivering the outbox: the dispatcher that claims due messages, the delivery policy (consent, caps, quiet hours),

the channels (SMTP email, HTTP SMS and push, webhooks, sandbox) and test sends (proofs).
"""

from engine.delivery.dispatcher import BACKOFF_BASE, LEASE, MAX_ATTEMPTS, DispatchReport, backoff, claim, dispatch_due
from engine.delivery.policy import Allow, Defer, Recipient, Suppress, decide, quiet_hours_end
from engine.delivery.proofs import ProofError, send_proof

__all__ = [
    "BACKOFF_BASE",
    "LEASE",
    "MAX_ATTEMPTS",
    "Allow",
    "Defer",
    "DispatchReport",
    "ProofError",
    "Recipient",
    "Suppress",
    "backoff",
    "claim",
    "decide",
    "dispatch_due",
    "quiet_hours_end",
    "send_proof",
]
