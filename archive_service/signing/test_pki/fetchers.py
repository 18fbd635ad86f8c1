"""Revocation fetching for the test PKI without a socket: its URLs are answered in-process.

The embedded default's certificates name ``http://127.0.0.1:<port>/…`` URLs (see
:mod:`~archive_service.signing.test_pki.pki`), but nothing needs to listen there: this backend
hands requests for exactly that base URL to :class:`~.revocation.PkiResponder` and fails every
other URL, as an unreachable server would — so hard-fail signing stays honest and a certificate
naming a foreign URL cannot make the process reach out anywhere.

It reuses pyHanko's ``requests`` fetchers (request building, nonce checks, caching, fetch
budgets) and only replaces their two transport methods, which answer with a real
``requests.Response``. Those methods are internal to pyhanko-certvalidator;
``tests/signing/test_long_term.py`` (B-LT/B-LTA signing through this backend) fails loudly if
they move.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import requests
from pyhanko_certvalidator.fetchers.api import FetcherBackend, Fetchers, FetchLimits
from pyhanko_certvalidator.fetchers.common_utils import FetchBudget
from pyhanko_certvalidator.fetchers.requests_fetchers.cert_fetch_client import (
    RequestsCertificateFetcher,
)
from pyhanko_certvalidator.fetchers.requests_fetchers.crl_client import RequestsCRLFetcher
from pyhanko_certvalidator.fetchers.requests_fetchers.ocsp_client import RequestsOCSPFetcher

from archive_service.signing.test_pki.revocation import PkiResponder


class _InProcessTransport:
    _responder: PkiResponder

    def _get(self, url: str, *, acceptable_content_types: Any) -> Awaitable[requests.Response]:
        return self._answer("GET", url, None)

    def _post(
        self, url: str, data: bytes, *, content_type: str, acceptable_content_types: Any
    ) -> Awaitable[requests.Response]:
        return self._answer("POST", url, data)

    async def _answer(self, method: str, url: str, body: bytes | None) -> requests.Response:
        answer = self._responder.handle_url(method, url, body)
        if answer.status != 200:
            raise requests.RequestException(f"{url}: status code {answer.status}")
        response = requests.Response()
        response.status_code = answer.status
        response.url = url
        response.headers["Content-Type"] = answer.content_type
        response._content = answer.body
        return response


class _OcspFetcher(_InProcessTransport, RequestsOCSPFetcher):
    pass


class _CrlFetcher(_InProcessTransport, RequestsCRLFetcher):
    pass


class _CertFetcher(_InProcessTransport, RequestsCertificateFetcher):
    pass


class LocalPkiFetcherBackend(FetcherBackend):
    """Fetchers that reach only one test PKI's responder, in-process."""

    def __init__(self, responder: PkiResponder, *, limits: FetchLimits | None = None) -> None:
        self._responder = responder
        self._limits = limits or FetchLimits()

    def get_fetchers(self) -> Fetchers:
        budget = FetchBudget(self._limits)
        ocsp_fetcher = _OcspFetcher(budget=budget)
        crl_fetcher = _CrlFetcher(budget=budget)
        cert_fetcher = _CertFetcher(budget=budget)
        for fetcher in (ocsp_fetcher, crl_fetcher, cert_fetcher):
            fetcher._responder = self._responder
        return Fetchers(
            ocsp_fetcher=ocsp_fetcher, crl_fetcher=crl_fetcher, cert_fetcher=cert_fetcher
        )

    async def close(self) -> None:
        return None
