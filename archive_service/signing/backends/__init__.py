"""Sealing backends: each makes :class:`~archive_service.signing.sealing.Sealer` objects.

* :mod:`.key` — :class:`~.key.KeySealer`, sealing with a key the archive holds, whichever of
  the next three holds it;
* :mod:`.pkcs12` — a key file (PKCS#12);
* :mod:`.pkcs11` — a key on a PKCS#11 token or HSM (sessions, PIN, proof of possession);
* :mod:`.test_pki` — the local test PKI's seal (:mod:`archive_service.signing.test_pki`);
* :mod:`.external` — an outside party's key (a person's token, a remote signing service): the
  document is prepared here and finished with the party's answer.

Configuration picks among them in one place, :mod:`archive_service.signers`; nothing else asks
which backend it got.
"""
