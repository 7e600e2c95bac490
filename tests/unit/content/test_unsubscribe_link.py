"""The unsubscribe link is built as ``urlencode`` of its three fields, signed with HMAC-SHA256 of the customer and
channel under the key the module's docstring names: links already sent keep working."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from urllib.parse import urlencode

import pytest

from engine.content import public_base_url, unsubscribe_url
from engine.map import Channel
from engine.store import PROJECT_ROOT


def signing_key() -> bytes:
    unsubscribe_url(1, Channel.EMAIL)  # makes the key file when there is none yet
    configured = os.environ.get("JOURNEY_SECRET_KEY")
    if configured:
        return configured.encode()
    return Path(os.environ.get("JOURNEY_SECRET_FILE", PROJECT_ROOT / ".journey_secret")).read_text().strip().encode()


@pytest.mark.parametrize("profile_id", [1, 42, 10**12, -3])
@pytest.mark.parametrize("channel", [*Channel, "odd channel&=?"])
def test_the_link_is_urlencode_of_the_profile_channel_and_signature(profile_id: int, channel: Channel | str) -> None:
    name = channel.value if isinstance(channel, Channel) else channel
    signature = hmac.new(signing_key(), f"{profile_id}:{name}".encode(), hashlib.sha256).hexdigest()[:32]
    query = urlencode({"p": profile_id, "c": name, "s": signature})

    assert unsubscribe_url(profile_id, channel) == f"{public_base_url()}/v1/unsubscribe?{query}"
