"""Alerts people can live with: one digest mail per recipient per run, Date and Message-ID on every mail, and
webhooks signed so a receiver can verify them and refuse replays. Real aiosmtpd and HTTP servers."""

from __future__ import annotations

import uuid
from email.utils import parsedate_to_datetime

import pytest

from analytics.alerts.auditors import AuditorsError, load_auditors, parse_auditors
from analytics.alerts.run import process_run
from analytics.alerts.webhook_sign import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from analytics.analysis.model import Status
from sensors.registry import Registry
from tests.conftest import TEST_NOW
from tests.integration.analytics.auditing import (
    COMM,
    GYM,
    LIB,
    D,
    directory,
    registry,
    registry_data,
    run_of,
    settings_for,
    wait_for,
)

pytestmark = pytest.mark.servers
SECRET = "a-webhook-secret-of-32-characters"


def test_one_digest_per_recipient_per_run_with_date_and_message_id(db, smtp_server, webhook, mosquitto):
    settings = settings_for(db, smtp_server.url, mosquitto.url, f"t{uuid.uuid4().hex[:8]}/v1")
    run = run_of(D, {LIB: Status.IDLE, GYM: Status.UNDERUSED, COMM: Status.ACTIVE})
    summary = process_run(run, registry(), settings, client=db, directory=directory(webhook.url(), mqtt=False,
                                                                                        digest=True))
    assert dict(summary.notices) == {"raised": 2}
    assert (summary.sent, summary.failed) == (4, 0)  # each notice's delivery is recorded, by one mail
    ((to, mail),) = wait_for(smtp_server.mailbox.messages, 1)
    assert to == ["city@audit.example.org"]
    assert mail["Subject"] == "[facmon] 2 notices as of 2025-11-03"
    assert mail["X-Facmon-Kind"] == "digest"
    text = mail.get_body(("plain",)).get_content()
    assert f"1. IDLE: 鹿城区图书馆五马分馆 ({LIB})" in text
    assert f"2. UNDERUSED: 鹿城区全民健身中心 ({GYM})" in text
    assert text.count("Status: ") == 2  # each notice in full below the list
    # The pinned clock (it starts at TEST_NOW and runs on through the session), not the machine's
    assert TEST_NOW.timestamp() <= parsedate_to_datetime(mail["Date"]).timestamp() <= settings.clock.time() + 1
    assert mail["Message-ID"].startswith("<")
    assert mail["Message-ID"].endswith("@example.org>")
    assert len(webhook.received()) == 2  # webhooks stay one POST per notice


def test_webhook_is_signed_over_timestamp_and_body(db, smtp_server, webhook, mosquitto, monkeypatch):
    monkeypatch.setenv("FACMON_TEST_HOOK_SECRET", SECRET)
    settings = settings_for(db, smtp_server.url, mosquitto.url, f"t{uuid.uuid4().hex[:8]}/v1")
    found = directory(webhook.url(), mqtt=False, webhook_secret_env="FACMON_TEST_HOOK_SECRET")
    process_run(run_of(D, {LIB: Status.IDLE, GYM: Status.ACTIVE, COMM: Status.ACTIVE}), registry(), settings,
                client=db, directory=found)
    wait_for(webhook.received, 1)
    (_, headers, _), body = webhook.requests[0], webhook.raw[0]
    stamp, signed = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    assert TEST_NOW.timestamp() <= int(stamp) <= settings.clock.time() + 1  # the pinned clock, not the machine's
    assert signed.startswith("sha256=")
    now = int(stamp) + 10
    assert verify(SECRET.encode(), stamp, signed, body, now)
    assert not verify(b"another-secret-of-enough-length", stamp, signed, body, now)
    assert not verify(SECRET.encode(), stamp, signed, body + b" ", now)  # a changed body
    assert not verify(SECRET.encode(), str(int(stamp) + 1), signed, body, now)  # a changed timestamp
    assert not verify(SECRET.encode(), stamp, signed, body, int(stamp) + 3600)  # a replay an hour later


def test_webhook_secret_never_inline_and_must_be_readable(tmp_path, monkeypatch):
    entry = {"id": "hook", "name": "Hook", "regions": ["*"], "webhook": "https://hooks.example.org/x"}
    with pytest.raises(AuditorsError, match="webhook_secret must not be written in the file"):
        parse_auditors({"auditors": [{**entry, "webhook_secret": SECRET}]})
    monkeypatch.delenv("FACMON_TEST_UNSET", raising=False)
    path = tmp_path / "auditors.yaml"
    path.write_text(f"auditors:\n  - {{id: hook, name: Hook, regions: ['*'], webhook: '{entry['webhook']}', "
                    "webhook_secret_env: FACMON_TEST_UNSET}\n", encoding="utf-8")
    with pytest.raises(AuditorsError, match="FACMON_TEST_UNSET is not set"):
        load_auditors(path)
    secret_file = tmp_path / "hook.secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    path.write_text(path.read_text(encoding="utf-8").replace("webhook_secret_env: FACMON_TEST_UNSET",
                                                             f"webhook_secret_file: '{secret_file}'"), encoding="utf-8")
    assert load_auditors(path).auditors[0].webhook_secret() == SECRET.encode()


def test_each_recipient_reads_the_mail_in_their_own_language(db, smtp_server, webhook, mosquitto):
    """`language:` per recipient: the city's auditors read Chinese (a digest), the district's English (one mail a
    notice), from the same run; the codes (statuses, ids) are the same in both."""
    settings = settings_for(db, smtp_server.url, mosquitto.url, f"t{uuid.uuid4().hex[:8]}/v1")
    run = run_of(D, {LIB: Status.IDLE, GYM: Status.UNDERUSED, COMM: Status.ACTIVE})
    people = parse_auditors({"auditors": [
        {"id": "city", "name": "温州市审计局", "regions": ["zhejiang/wenzhou"], "email": "city@audit.example.org",
         "language": "zh_CN"},
        {"id": "district", "name": "Lucheng audit", "regions": ["zhejiang/wenzhou/lucheng"],
         "email": "district@audit.example.org", "digest": False, "language": "en"},
    ]})
    renamed = Registry.model_validate({**registry_data(), "types": {"library": {"zh_CN": "城市书房"}}})
    summary = process_run(run, renamed, settings, client=db, directory=people)
    assert summary.failed == 0
    mails = wait_for(smtp_server.mailbox.messages, 3)
    chinese = [mail for to, mail in mails if to == ["city@audit.example.org"]]
    english = {mail["Subject"]: mail for to, mail in mails if to == ["district@audit.example.org"]}
    assert [mail["Subject"] for mail in chinese] == ["[facmon] 截至 2025-11-03 共 2 条提示"]
    text = chinese[0].get_body(("plain",)).get_content()
    assert "facmon：本次分析共 2 条提示" in text
    assert f"1. 闲置：鹿城区图书馆五马分馆 ({LIB})，2025-10-06 至 2025-11-02" in text
    assert text.count("状态：") == 2
    assert "数据覆盖率（开放时段）：90.0%" in text
    assert "Status: " not in text
    assert not [code for code in ("IDLE", "UNDERUSED", "NO_DATA", "EXEMPT", "ACTIVE") if code in text]
    assert "类型 城市书房，设计容量 120" in text  # the registry's name for the type
    assert "类型 全民健身中心，设计容量 80" in text  # the built-in one
    idle_subject = f"[facmon] IDLE: 鹿城区图书馆五马分馆 ({LIB})"
    assert set(english) == {idle_subject, f"[facmon] UNDERUSED: 鹿城区全民健身中心 ({GYM})"}
    idle = english[idle_subject].get_body(("plain",)).get_content()
    assert "Status: IDLE, as of" in idle
    assert "  sensor coverage of opening hours: 90.0%" in idle
    assert "type Library, capacity 120" in idle  # no English name in the registry: the built-in one
    assert "状态" not in idle


def test_a_digest_of_more_notices_than_a_mail_carries_comes_in_parts(db, smtp_server, webhook, mosquitto):
    """Five notices at most two a mail: three mails, "(part N of 3)", numbered on, each notice's outcome that of
    the mail that carried it."""
    from dataclasses import replace

    from analytics.alerts.decide import Kind, Notice
    from analytics.alerts.deliver import Deliverer
    from analytics.alerts.message import payload

    settings = settings_for(db, smtp_server.url, mosquitto.url, f"t{uuid.uuid4().hex[:8]}/v1")
    base = run_of(D, {LIB: Status.IDLE, GYM: Status.ACTIVE, COMM: Status.ACTIVE}).facilities[0]
    notices = [payload(Notice(Kind.RAISED, replace(base, facility_id=f"lib-{i}"), D), None, [], None, TEST_NOW)
               for i in range(1, 6)]
    deliverer = Deliverer(settings, directory(webhook.url(), mqtt=False, digest=True))
    try:
        outcomes = deliverer.mail_digest("city", notices, most=2)
    finally:
        deliverer.close()
    assert [o.ok for o in outcomes] == [True] * 5
    mails = [mail for _to, mail in wait_for(smtp_server.mailbox.messages, 3)]
    assert [m["Subject"] for m in mails] == [f"[facmon] {n} notices as of 2025-11-03 (part {p} of 3)"
                                             for n, p in ((2, 1), (2, 2), (1, 3))]
    third = mails[2].get_body(("plain",)).get_content()
    assert third.startswith("facmon: notices 5 to 5 of the 5 in this run")
    assert "5. IDLE: " in third
    assert "(lib-5)" in third
    assert "(lib-4)" not in third
    names = [part.get_filename() for m in mails for part in m.iter_attachments()]
    assert names == [f"facmon-digest-2025-11-03-{p}-of-3.json" for p in (1, 2, 3)]
