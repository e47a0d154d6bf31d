"""The run's throwaway PKI: a CA signs certificates that carry exactly the requested names, verify
against it (for cryptography's web PKI checks, openssl and a TLS handshake), and match their keys."""

import contextlib
import datetime
import ipaddress
import ssl
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from egress_conformance import pki
from egress_conformance.cluster import healthz

DNS = ("localhost", "kubernetes.default.svc")
IPS = ("127.0.0.1", "::1")


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    """A CA, a server certificate and a client certificate, made once: RSA keys take a while."""
    directory = tmp_path_factory.mktemp("pki")
    ca = pki.ca(directory, "cluster-ca", "test CA")
    server = pki.leaf(directory, "apiserver", ca, "kube-apiserver", dns=DNS, ips=IPS)
    client = pki.leaf(directory, "admin", ca, "test-admin", organization="system:masters")
    return ca, server, client


def load(pair: pki.KeyPair) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pair.cert.read_bytes())


def public_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_the_server_certificate_carries_exactly_the_requested_names(issued):
    _, server, _ = issued
    names = load(server).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == list(DNS)
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(ip) for ip in IPS]
    assert names.get_values_for_type(x509.UniformResourceIdentifier) == []


@pytest.mark.parametrize("name", [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
def test_the_server_certificate_verifies_against_the_ca_for_its_names(issued, name):
    ca, server, _ = issued
    verifier = verification.PolicyBuilder().store(verification.Store([load(ca)])).build_server_verifier(name)
    chain = verifier.verify(load(server), [])
    assert chain[-1] == load(ca)


def test_a_name_the_certificate_does_not_carry_fails_verification(issued):
    ca, server, _ = issued
    verifier = (verification.PolicyBuilder().store(verification.Store([load(ca)]))
                .build_server_verifier(x509.DNSName("example.com")))
    with pytest.raises(verification.VerificationError):
        verifier.verify(load(server), [])


@pytest.mark.parametrize("purpose", ["sslserver", "sslclient"])
def test_openssl_verifies_both_leaves_for_both_tls_roles(issued, purpose):
    ca, server, client = issued
    result = subprocess.run(["openssl", "verify", "-CAfile", str(ca.cert), "-purpose", purpose,
                             str(server.cert), str(client.cert)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_key_matches_its_certificate_and_is_private(issued):
    for pair in issued:
        key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
        assert public_der(key.public_key()) == public_der(load(pair).public_key())
        assert key.key_size == pki.KEY_BITS
        assert pair.key.stat().st_mode & 0o777 == 0o600


def test_only_the_ca_may_sign_and_leaves_serve_and_authenticate_clients(issued):
    ca, server, client = issued
    ca_cert = load(ca)
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca_cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    for leaf in (load(server), load(client)):
        constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
        assert constraints.critical and not constraints.value.ca
        assert not leaf.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
        assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
            ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        assert leaf.issuer == ca_cert.subject
        assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(days=pki.VALID_DAYS)


def test_the_organization_is_the_client_group_and_a_client_needs_no_names(issued):
    _, _, client = issued
    subject = load(client).subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "test-admin"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    with pytest.raises(x509.ExtensionNotFound):
        load(client).extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_a_spiffe_identity_is_a_uri_name(issued, tmp_path):
    ca, _, _ = issued
    spiffe = "spiffe://cluster.local/ns/test/sa/default"
    identity = pki.leaf(tmp_path, "workload", ca, "client", uris=(spiffe,))
    names = load(identity).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(names) == [x509.UniformResourceIdentifier(spiffe)]


def test_mutual_tls_with_the_api_servers_files_as_the_suite_loads_them(issued):
    """The handshake healthz.client_tls makes with the API server, in memory."""
    ca, server, client = issued
    serving = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serving.load_cert_chain(str(server.cert), str(server.key))
    serving.load_verify_locations(str(ca.cert))
    serving.verify_mode = ssl.CERT_REQUIRED
    inbound, outbound = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_side = healthz.client_tls(ca, client).wrap_bio(inbound, outbound, server_hostname="127.0.0.1")
    server_side = serving.wrap_bio(outbound, inbound, server_side=True)
    for _ in range(3):  # each round passes every side's pending messages to the other
        for side in (client_side, server_side):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
    assert server_side.getpeercert()["subject"][0] == (("commonName", "test-admin"),)


def test_the_service_account_key_and_its_public_half_match(tmp_path):
    pair = pki.rsa_key(tmp_path, "service-accounts")
    key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
    assert public_der(serialization.load_pem_public_key(pair.cert.read_bytes())) == public_der(key.public_key())
    assert pair.key.stat().st_mode & 0o777 == 0o600
