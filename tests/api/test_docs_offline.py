"""The API docs work offline: Swagger UI and ReDoc load their files from Warroom itself (the
fastapi-offline package), never from a CDN; the main configuration calls carry examples."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_docs_pages_load_only_local_files(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        urls = re.findall(r'(?:src|href)=["\']([^"\']+)', page.text)
        urls += re.findall(r"url: ['\"]([^'\"]+)", page.text)
        assert urls, page.text
        assert not [u for u in urls if u.startswith(("http:", "https:", "//"))], urls
        for url in urls:
            if url.startswith("/docs/assets/"):
                r = client.get(url)
                assert r.status_code == 200 and len(r.content) > 10_000, url
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("ServiceIn", "IntegrationIn", "PolicyIn", "ContactMethodIn", "NotificationRuleIn"):
        assert schemas[name].get("examples"), name
