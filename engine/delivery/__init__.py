"""Delivering the outbox: per-channel claims with a fencing token, each send recorded around the provider call,
the delivery policy (consent, caps, quiet hours), messages in doubt, the channels (SMTP email, HTTP SMS and push,
webhooks, sandbox) and test sends (proofs).
"""

from engine.delivery.dispatcher import (
    BACKOFF_BASE,
    LEASE,
    MAX_ATTEMPTS,
    RESENDABLE,
    RETRY_AFTER_MAX,
    Claimed,
    DispatchReport,
    address_on,
    backoff,
    claim,
    retry_delay,
)
from engine.delivery.doubt import InDoubtError, InDoubtMessage, in_doubt_messages, mark_sent, resend
from engine.delivery.lanes import THROTTLED, Dispatcher, dispatch_due, worker_name
from engine.delivery.policy import CUSTOMER_FACING, Allow, Defer, Recipient, Suppress, decide, quiet_hours_end
from engine.delivery.proofs import SAMPLE_TRAITS, TEST_MARK, Proof, ProofError, make_proof, mark_as_test, send_proof
from engine.delivery.sending import Outcome, Throttle, record, send_claimed

__all__ = [
    "BACKOFF_BASE",
    "CUSTOMER_FACING",
    "LEASE",
    "MAX_ATTEMPTS",
    "RESENDABLE",
    "RETRY_AFTER_MAX",
    "SAMPLE_TRAITS",
    "TEST_MARK",
    "THROTTLED",
    "Allow",
    "Claimed",
    "Defer",
    "DispatchReport",
    "Dispatcher",
    "InDoubtError",
    "InDoubtMessage",
    "Outcome",
    "Proof",
    "ProofError",
    "Recipient",
    "Suppress",
    "Throttle",
    "address_on",
    "backoff",
    "claim",
    "decide",
    "dispatch_due",
    "in_doubt_messages",
    "make_proof",
    "mark_as_test",
    "mark_sent",
    "quiet_hours_end",
    "record",
    "resend",
    "retry_delay",
    "send_claimed",
    "send_proof",
    "worker_name",
]
