"""What a verified webhook becomes (careline_ingress.domain.webhooks): ids, keys, refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from careline_contracts.ingress import SmsReceived, SmsStatusUpdated, StripeEventReceived, UserRegistered
from careline_ingress.domain import webhooks
from careline_ingress.domain.webhooks import BadRequest, InboundSms

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
SID = "SM" + "a" * 32
ACCOUNT = "AC" + "c" * 32


@pytest.mark.parametrize(
    ("raw", "pairs"),
    [
        (b"", []),
        (b"From=%2B14155550100&Body=hi", [("From", "+14155550100"), ("Body", "hi")]),
        (b"Body=&To=1", [("Body", ""), ("To", "1")]),  # blanks are signed too
        (b"a=1&a=2", [("a", "1"), ("a", "2")]),  # order and repeats kept
    ],
    ids=["empty", "plain", "blank-values", "repeats"],
)
def test_a_form_body_becomes_ordered_pairs(raw: bytes, pairs: list[tuple[str, str]]) -> None:
    assert webhooks.parse_form(raw) == pairs


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "body is not a form"),
        (b"no-equals-sign", "body is not a form"),
        (b"a=" + b"x" * webhooks.MAX_BODY_BYTES, "body too large"),
    ],
    ids=["not-utf8", "not-a-form", "too-large"],
)
def test_a_body_that_is_not_a_usable_form_is_a_bad_request(raw: bytes, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        webhooks.parse_form(raw)


def test_the_sender_is_normalised_and_the_old_sid_name_accepted() -> None:
    sender = {"From": "+1 (415) 555-0100", "AccountSid": ACCOUNT}
    assert webhooks.inbound_sms({"MessageSid": SID, **sender}) == InboundSms(SID, "+14155550100")
    assert webhooks.inbound_sms({"SmsSid": SID, **sender}).sid == SID


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"From": "+14155550100"}, "MessageSid and From are required"),
        ({"MessageSid": SID}, "MessageSid and From are required"),
        ({"MessageSid": "", "From": "+14155550100"}, "MessageSid and From are required"),
        ({"MessageSid": SID, "From": "not a phone", "AccountSid": ACCOUNT}, "From is not a phone number"),
    ],
    ids=["no-sid", "no-from", "empty-sid", "bad-from"],
)
def test_an_inbound_text_without_its_essentials_is_a_bad_request(params: dict[str, str], reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        webhooks.inbound_sms(params)


@pytest.mark.parametrize(
    ("changed", "reason"),
    [
        ({"MessageSid": "SM1"}, "MessageSid is not"),
        ({"MessageSid": "SM" + "a" * 32 + "NumMedia0"}, "MessageSid is not"),  # a shifted boundary
        ({"MessageSid": "SM" + "A" * 32}, "MessageSid is not"),  # Twilio's hex is lower case
        ({"MessageSid": "XX" + "a" * 32}, "MessageSid is not"),
        ({"MessageSid": "SM" + "a" * 32 + "\n"}, "MessageSid is not"),
        ({"MessageSid": "SM" + "a" * 5000}, "MessageSid is not"),
        ({"AccountSid": "AC1"}, "AccountSid is not"),
        ({"AccountSid": ""}, "AccountSid is not"),
        ({"AccountSid": "AC" + "c" * 33}, "AccountSid is not"),
    ],
    ids=["short", "shifted", "upper-case", "prefix", "newline", "over-long", "short-ac", "no-ac", "long-ac"],
)
def test_ids_of_any_other_shape_than_twilios_are_refused(changed: dict[str, str], reason: str) -> None:
    params = {"MessageSid": SID, "From": "+14155550100", "AccountSid": ACCOUNT, **changed}
    if not params["AccountSid"]:
        del params["AccountSid"]
    with pytest.raises(BadRequest, match=reason):
        webhooks.inbound_sms(params)
    with pytest.raises(BadRequest, match=reason):
        webhooks.status_updated({**params, "MessageStatus": "sent"}, NOW, "")


def test_an_mms_id_is_a_message_id_too() -> None:
    mms = "MM" + "0123456789abcdef" * 2
    assert webhooks.inbound_sms({"MessageSid": mms, "From": "+14155550100", "AccountSid": ACCOUNT}).sid == mms


def test_a_text_is_keyed_by_its_user_and_identified_by_twilios_sid() -> None:
    sms = InboundSms(SID, "+14155550100")
    params = {"To": "+18005550000", "Body": "x" * 2000}
    out = webhooks.sms_received(sms, "usr_1", params, NOW, "cid")
    assert (out.msg_id, out.key, out.stream.name) == (f"twilio:{SID}", "usr_1", "SMS")
    assert isinstance(out.event, SmsReceived)
    assert out.event.body == "x" * 1600 and out.event.to == "+18005550000"
    assert out.event.correlation_id == "cid" and out.event.occurred_at == NOW


def test_registration_is_published_once_per_user_until_noted() -> None:
    out = webhooks.user_registered("usr_1", "+14155550100", NOW, "cid")
    assert (out.msg_id, out.key, out.stream.name) == ("user.registered:usr_1", "usr_1", "USERS")
    assert isinstance(out.event, UserRegistered)
    assert webhooks.needs_registration({"_id": "usr_1", "registered_published": False})
    assert webhooks.needs_registration({"_id": "usr_1"})
    assert not webhooks.needs_registration({"_id": "usr_1", "registered_published": True})


def test_each_status_of_a_message_is_its_own_event() -> None:
    params = {"MessageSid": SID, "MessageStatus": "Delivered", "ErrorCode": "", "AccountSid": ACCOUNT}
    out = webhooks.status_updated(params, NOW, "cid")
    assert (out.msg_id, out.key, out.stream.name) == (f"twilio-status:{SID}:delivered", SID, "SMS")
    assert isinstance(out.event, SmsStatusUpdated) and out.event.error_code is None
    failed = webhooks.status_updated({**params, "MessageStatus": "failed", "ErrorCode": "30003"}, NOW, "")
    assert failed.msg_id != out.msg_id and isinstance(failed.event, SmsStatusUpdated)
    assert failed.event.error_code == "30003"
    with pytest.raises(BadRequest, match="MessageStatus"):
        webhooks.status_updated({"MessageSid": SID}, NOW, "")


def stripe_body(obj: object, **extra: object) -> bytes:
    event = {"id": "evt_1", "type": "customer.subscription.updated", "created": 1, "data": {"object": obj}}
    return json.dumps({**event, **extra}).encode()


@pytest.mark.parametrize(
    ("obj", "key"),
    [
        ({"id": "sub_1", "customer": "cus_1"}, "cus_1"),
        ({"id": "cus_2", "object": "customer"}, "cus_2"),
        ({"customer": None}, "evt_1"),
        ("not an object", "evt_1"),
    ],
    ids=["by-customer", "the-customer-itself", "no-ids", "not-a-dict"],
)
def test_a_stripe_event_is_keyed_by_its_customer_when_it_has_one(obj: object, key: str) -> None:
    out = webhooks.stripe_received(stripe_body(obj), NOW, "cid")
    assert (out.msg_id, out.key, out.stream.name) == ("stripe:evt_1", key, "STRIPE")
    assert isinstance(out.event, StripeEventReceived) and out.event.type == "customer.subscription.updated"


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[]", json.dumps({"id": "evt_1"}).encode(), stripe_body({}, id="")],
    ids=["not-json", "not-an-object", "no-data", "empty-id"],
)
def test_a_body_that_is_not_a_stripe_event_is_a_bad_request(raw: bytes) -> None:
    with pytest.raises(BadRequest, match="not a Stripe event"):
        webhooks.stripe_received(raw, NOW, "")
