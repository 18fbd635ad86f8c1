"""An RFC 3161 time-stamping authority inside the process, for the test PKI only.

pyHanko's ``DummyTimeStamper`` signs with RSA only, and the test PKI uses ECDSA P-256 like the
production keys it stands in for. This TSA builds the ``TSTInfo`` itself and lets pyHanko's own
CMS signer wrap it, so the token carries the ESS signing-certificate attribute and embedded
chain that validators expect of a real TSA.
"""

from __future__ import annotations

import datetime as dt
import secrets

from asn1crypto import cms, core, keys, tsp, x509
from pyhanko.sign.signers import SimpleSigner
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

#: Policy identifier written into the test tokens: an arc under ``2.999`` (ITU-T X.660
#: "example"), so no one can mistake the tokens for those of a registered, qualified TSA policy.
TEST_TSA_POLICY = "2.999.7001.1"


class LocalTimeStamper(TimeStamper):
    """Answers timestamp requests by signing them with a locally held TSA key."""

    def __init__(
        self,
        tsa_cert: x509.Certificate,
        tsa_key: keys.PrivateKeyInfo,
        chain: list[x509.Certificate],
    ) -> None:
        super().__init__(include_nonce=True)
        self._tsa_cert = tsa_cert
        self._signer = SimpleSigner(
            signing_cert=tsa_cert,
            signing_key=tsa_key,
            cert_registry=SimpleCertificateStore.from_certs(chain),
            embed_roots=False,
        )

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        imprint: tsp.MessageImprint = req["message_imprint"]
        info: dict[str, object] = {
            "version": "v1",
            "policy": TEST_TSA_POLICY,
            "message_imprint": imprint,
            "serial_number": secrets.randbits(63),
            "gen_time": dt.datetime.now(dt.UTC).replace(microsecond=0),
            "tsa": x509.GeneralName(name="directory_name", value=self._tsa_cert.subject),
        }
        if req["nonce"].native is not None:
            info["nonce"] = req["nonce"]
        content = cms.EncapsulatedContentInfo(
            {
                "content_type": "tst_info",
                "content": core.ParsableOctetString(tsp.TSTInfo(info).dump()),
            }
        )
        token = await self._signer.async_sign_general_data(
            content,
            imprint["hash_algorithm"]["algorithm"].native,
            detached=False,
            use_cades=True,
        )
        return tsp.TimeStampResp(
            {"status": tsp.PKIStatusInfo({"status": "granted"}), "time_stamp_token": token}
        )
