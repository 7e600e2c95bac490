from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from engine.delivery import Allow, Defer, Recipient, Suppress, decide, quiet_hours_end
from engine.map import Channel, FrequencyCap, QuietHours

QUIET = QuietHours(start=time(21, 0), end=time(8, 0))
CAP = FrequencyCap(max_messages=2, window=timedelta(days=1))


def recipient(
    consent: dict[str, bool] | None = None, sent: dict[str, int] | None = None, tz: str = "America/New_York"
) -> Recipient:
    return Recipient(consent=consent or {}, timezone=tz, sent_in_window=sent or {})


def verdict(now: datetime, **kwargs: object) -> object:
    options: dict[str, object] = {
        "channel": Channel.SMS,
        "fallback": None,
        "recipient": recipient(),
        "has_address": True,
        "fallback_has_address": True,
        "quiet": QUIET,
        "cap": CAP,
        "now": now,
    }
    options.update(kwargs)
    return decide(**options)  # type: ignore[arg-type]


NOON_NY = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
NIGHT_NY = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 22:00 in New York


def test_allowed_in_daytime() -> None:
    assert verdict(NOON_NY) == Allow(channel=Channel.SMS)


def test_quiet_hours_defer_to_the_local_morning() -> None:
    result = verdict(NIGHT_NY)
    assert isinstance(result, Defer)
    assert result.until == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    assert "quiet hours 21:00-08:00" in result.reason
    assert quiet_hours_end(NOON_NY, QUIET, "America/New_York") is None


def test_opted_out_is_suppressed_with_reason() -> None:
    result = verdict(NOON_NY, recipient=recipient(consent={"sms": False}))
    assert result == Suppress(reason="opted out of sms")


def test_opted_out_uses_the_fallback_channel() -> None:
    result = verdict(NOON_NY, recipient=recipient(consent={"sms": False}), fallback=Channel.EMAIL)
    assert result == Allow(channel=Channel.EMAIL)


def test_frequency_cap_suppresses() -> None:
    result = verdict(NOON_NY, recipient=recipient(sent={"sms": 2}))
    assert isinstance(result, Suppress)
    assert result.reason == "frequency cap: 2 sms message(s) per P1D"


def test_internal_webhooks_ignore_quiet_hours_and_caps() -> None:
    assert verdict(NIGHT_NY, channel=Channel.WEBHOOK, recipient=recipient(sent={"webhook": 9})) == Allow(
        channel=Channel.WEBHOOK
    )


def test_missing_address_is_suppressed() -> None:
    assert verdict(NOON_NY, has_address=False) == Suppress(reason="no address for sms")


def test_in_app_messages_ignore_quiet_hours_but_keep_consent_and_the_cap() -> None:
    assert verdict(NIGHT_NY, channel=Channel.IN_APP) == Allow(channel=Channel.IN_APP)
    capped = verdict(NIGHT_NY, channel=Channel.IN_APP, recipient=recipient(sent={"in_app": 2}))
    assert capped == Suppress(reason="frequency cap: 2 in_app message(s) per P1D")
    opted_out = verdict(NIGHT_NY, channel=Channel.IN_APP, recipient=recipient(consent={"in_app": False}))
    assert opted_out == Suppress(reason="opted out of in_app")
