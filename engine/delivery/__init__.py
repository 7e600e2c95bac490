"""Delivering the outbox: the dispatcher that claims due messages, the delivery policy (consent, caps, quiet hours),

the channels (SMTP email, HTTP SMS and push, webhooks, sandbox) and test sends (proofs).
"""

from engine.delivery.dispatcher import BACKOFF_BASE, LEASE, MAX_ATTEMPTS, DispatchReport, backoff, claim, dispatch_due
from engine.delivery.policy import Allow, Defer, Recipient, Suppress, decide, quiet_hours_end
from engine.delivery.proofs import SAMPLE_TRAITS, TEST_MARK, Proof, ProofError, make_proof, mark_as_test, send_proof

__all__ = [
    "BACKOFF_BASE",
    "LEASE",
    "MAX_ATTEMPTS",
    "SAMPLE_TRAITS",
    "TEST_MARK",
    "Allow",
    "Defer",
    "DispatchReport",
    "Proof",
    "ProofError",
    "Recipient",
    "Suppress",
    "backoff",
    "claim",
    "decide",
    "dispatch_due",
    "make_proof",
    "mark_as_test",
    "quiet_hours_end",
    "send_proof",
]
