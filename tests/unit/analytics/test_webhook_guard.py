"""Where a webhook may point (analytics.alerts.webhook_guard): public https unless the auditors-file entry allows
more."""

from __future__ import annotations

import ipaddress

import pytest

from analytics.alerts.auditors import AuditorsError, parse_auditors
from analytics.alerts.webhook_guard import WebhookRefused, check_url, non_global, pick_address


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("100.64.0.1", "shared (CGNAT)"), ("100.127.255.254", "shared (CGNAT)"),
    ("fd00::1", "unique-local"), ("fc12:3456::1", "unique-local"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"), ("::ffff:10.0.0.1", "IPv4-mapped private"),
    ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"),
])
def test_non_global_addresses_are_named(address: str, reason: str) -> None:
    assert (non_global(ipaddress.ip_address(address)) or "").startswith(reason.split(" (")[0])


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_global_addresses_pass(address: str) -> None:
    assert non_global(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(("url", "message"), [
    ("http://hooks.example.org/x", "must be https://"),
    ("https://127.0.0.1:8086/query?db=facmon&q=DROP SERIES FROM reading", "loopback address (127.0.0.1)"),
    ("https://[::1]/x", "loopback"),
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://localhost/x", "points at this machine"),
    ("https://100.64.1.1/x", "CGNAT"),
    ("https://[::ffff:192.168.0.1]/x", "IPv4-mapped private"),
    ("ftp://hooks.example.org/x", "must be an https:// URL"),
])
def test_urls_refused_at_load(url: str, message: str) -> None:
    with pytest.raises(WebhookRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_url(url)


def test_explicit_allowances_per_entry() -> None:
    check_url("https://hooks.example.org/x")
    check_url("http://hooks.example.org/x", allow_http=True)
    check_url("https://10.0.0.5/x", allow_private=True)
    check_url("http://127.0.0.1:9/x", allow_http=True, allow_private=True)
    with pytest.raises(WebhookRefused, match="https"):
        check_url("http://127.0.0.1:9/x", allow_private=True)


def test_every_resolved_address_must_be_global() -> None:
    public, private = ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.7")
    assert pick_address("h", [public], False) == public
    with pytest.raises(WebhookRefused, match=r"h resolves to a private address \(10.0.0.7\)"):
        pick_address("h", [public, private], False)  # a rebinding name may hand out either
    assert pick_address("h", [private], True) == private
    with pytest.raises(WebhookRefused, match="no address"):
        pick_address("h", [], True)


def test_the_auditors_file_refuses_an_internal_webhook_in_one_line_without_its_path() -> None:
    entry = {"id": "x", "name": "X", "regions": ["*"],
             "webhook": "http://127.0.0.1:8086/query?db=facmon&q=DROP SERIES FROM reading"}
    with pytest.raises(AuditorsError) as caught:
        parse_auditors({"auditors": [entry]}, "auditors.yaml")
    assert str(caught.value) == ("auditors.yaml: auditors[0] (x): webhook http://127.0.0.1:8086: must be https:// "
                                 "(set allow_http: true on this entry to allow plain http)")
    with pytest.raises(AuditorsError, match="loopback address"):
        parse_auditors({"auditors": [{**entry, "allow_http": True}]}, "auditors.yaml")
    allowed = parse_auditors({"auditors": [{**entry, "allow_http": True, "allow_private": True}]})
    assert allowed.auditors[0].allow_private is True
    with pytest.raises(AuditorsError, match="allow_private: must be a valid boolean"):
        parse_auditors({"auditors": [{**entry, "allow_private": "yes"}]})
