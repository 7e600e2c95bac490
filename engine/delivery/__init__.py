"""Delivering the outbox: the dispatcher that claims due messages, the delivery policy (consent, caps, quiet hours),

the channels (SMTP email, HTTP SMS and push, webhooks, sandbox) and test sends (proofs).
"""
