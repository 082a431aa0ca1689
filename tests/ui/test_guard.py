"""The served notebook answers only requests addressed to loopback (or named hosts), never a cross-site page:
real HTTP against the real app on 127.0.0.1 (ui.app.start, the way `rag serve` serves it)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from ui.guard import allowed_hosts, origin_host

QUESTION = "TPU能否取代GPU?"


@pytest.fixture(scope="module")
def served(seeds_notebook, free_port) -> Iterator[tuple[str, int]]:
    """The notebook page on loopback, allowing one extra host name: (base URL, port)."""
    from ui.app import build_app, start

    port = free_port()
    server = start(build_app(seeds_notebook), "127.0.0.1", port, extra_hosts="notebook.lan")
    yield f"http://127.0.0.1:{port}", port
    server.close()


def ask_over_http(base: str, headers: dict[str, str]) -> httpx.Response:
    """POST the question to the /chat API, then read its result stream; the last response (the refusal if any)."""
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        posted = client.post("/gradio_api/call/chat", json={"data": [QUESTION]})
        if posted.status_code != 200:
            return posted
        return client.get(f"/gradio_api/call/chat/{posted.json()['event_id']}")


def refused(response: httpx.Response, why: str) -> None:
    assert response.status_code == 403, response.text[:200]
    assert why in response.text and len(response.text.strip().splitlines()) == 1
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "notebook.lan"])
def test_loopback_and_named_hosts_are_answered(served, host):
    base, port = served
    response = httpx.get(f"{base}/", headers={"Host": f"{host}:{port}"})
    assert response.status_code == 200 and "<gradio-app" in response.text


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:{port}", "127.0.0.1.nip.io:{port}", "127.0.0.1"]
)
def test_other_hosts_get_403_and_no_answer(served, host):
    base, port = served
    host = host.format(port=port)
    refused(httpx.get(f"{base}/", headers={"Host": host}), "host not allowed")
    refused(httpx.get(f"{base}/config", headers={"Host": host}), "host not allowed")
    # a rebinding page asking through the API with the attacker's name and origin
    refused(ask_over_http(base, {"Host": host, "Origin": f"http://{host}"}), "host not allowed")


def test_cross_site_requests_get_403_and_no_cors(served):
    base, port = served
    loopback = {"Host": f"127.0.0.1:{port}"}
    for origin in ["http://attacker.example", "null", f"http://localhost:{port + 1}"]:
        headers = {**loopback, "Origin": origin}
        refused(ask_over_http(base, headers), "cross-site request refused")
        preflight = httpx.options(
            f"{base}/gradio_api/call/chat", headers={**headers, "Access-Control-Request-Method": "POST"}
        )
        refused(preflight, "cross-site request refused")


def test_the_page_itself_is_answered_with_its_own_origin(served):
    base, port = served
    response = ask_over_http(base, {"Host": f"127.0.0.1:{port}", "Origin": f"http://127.0.0.1:{port}"})
    assert response.status_code == 200
    events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    reply = next(e for e in reversed(events) if isinstance(e, list))[0]
    assert "TPU" in reply and "[1]" in reply
    assert response.headers.get("access-control-allow-origin") in (None, f"http://127.0.0.1:{port}")


def test_allowed_hosts_spell_hosts_as_the_host_header_does():
    hosts = allowed_hosts(7860, "notebook.lan, other.lan:8080,[fe80::1]")
    assert {"127.0.0.1:7860", "localhost:7860", "[::1]:7860", "notebook.lan:7860", "other.lan:8080"} <= hosts
    assert "[fe80::1]:7860" in hosts and "127.0.0.1" not in hosts
    assert "localhost" in allowed_hosts(80)  # the default port is left out of Host
    assert origin_host("http://127.0.0.1:7860") == "127.0.0.1:7860" and origin_host("null") == ""


def test_allowed_hosts_is_a_serve_setting(monkeypatch):
    from rag.settings import Settings

    monkeypatch.setenv("RAG_ALLOWED_HOSTS", "notebook.lan")
    settings = Settings()
    assert settings.allowed_hosts == "notebook.lan"
    assert "RAG_ALLOWED_HOSTS" in [name for name, _, _ in settings.grouped()["serve"]]


def test_a_specific_bind_address_is_allowed_a_wildcard_names_none():
    import gradio as gr

    from ui.app import asgi_app
    from ui.guard import HostGuard

    def hosts(bind: str, extra: str = "") -> frozenset[str]:
        with gr.Blocks() as blocks:
            gr.Markdown("x")
        app = asgi_app(blocks, bind, 7860, extra)
        return next(m.kwargs["hosts"] for m in app.user_middleware if m.cls is HostGuard)

    assert "192.168.1.5:7860" in hosts("192.168.1.5")
    assert hosts("0.0.0.0") == allowed_hosts(7860)
    assert "notebook.lan:7860" in hosts("0.0.0.0", "notebook.lan")
