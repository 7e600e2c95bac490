"""A test send goes out through the channel's real provider: the SMTP server receives it, marked [TEST]."""

from __future__ import annotations

from sqlmodel import Session

from engine.delivery import dispatch_due, send_proof
from engine.delivery.channels import ChannelSettings, build_senders
from engine.journeys import create_journey
from engine.map.starters import load_template
from engine.store import session_scope, utc_now
from tests.integration.servers import SmtpTestServer


def test_a_test_email_to_a_typed_address_reaches_the_smtp_server(session: Session, db_url: str) -> None:
    journey = create_journey(session=session, doc=load_template("cart_abandonment"))
    assert journey.id is not None
    send_proof(session=session, journey_id=journey.id, node_id="email_reminder", to="me@example.com")
    session.commit()

    with SmtpTestServer() as smtp:
        senders = build_senders(ChannelSettings(smtp_host=smtp.host, smtp_port=smtp.port))
        try:
            report = dispatch_due(sessions=lambda: session_scope(db_url), senders=senders, now=utc_now)
        finally:
            for sender in senders.values():
                sender.close()
        (mail,) = smtp.messages

    assert report.delivered == 1
    assert mail.rcpt_tos == ("me@example.com",)
    assert str(mail.message["Subject"]).startswith("[TEST] ")
    text = mail.message.get_body(("plain",))
    assert text is not None
    assert "Hi Test Alex" in text.get_content()
