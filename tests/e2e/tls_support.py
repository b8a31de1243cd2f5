"""Test PKI and TLS server set-up for the TLS suites and the TLS benchmark: a CA, a server
certificate for localhost / 127.0.0.1 (clients verify the hostname by default), and client
certificates with a given subject, written as PEM files; and a config file giving a Strom
server an SSL listener, an mTLS listener and HTTPS."""

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import Strom, free_port

# Kafka's syntax: alice's `CN=alice,OU=svc,O=Org` maps to `alice`; others keep their DN.
MAPPING_RULES = "RULE:^CN=(.*?),OU=svc(,.*)?$/$1/L,DEFAULT"


def _name(**parts):
    oids = {"CN": NameOID.COMMON_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
            "O": NameOID.ORGANIZATION_NAME}
    # x509 lists RDNs least specific first; RFC 2253 (and Kafka) print them reversed.
    order = ["O", "OU", "CN"]
    return x509.Name([x509.NameAttribute(oids[k], parts[k]) for k in order if k in parts])


def _write_key(path: Path, key):
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


class Pki:
    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_cert = self._sign(_name(CN="strom test CA"), self.ca_key.public_key(), ca=True)
        self.ca = self.dir / "ca.pem"
        self.ca.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))
        self.server_cert, self.server_key = self.leaf("server", CN="localhost", server=True)

    def _sign(self, subject, public_key, ca=False, server=False):
        now = datetime.datetime.now(datetime.timezone.utc)
        issuer = subject if ca else self.ca_cert.subject
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        if not ca:
            usage = x509.oid.ExtendedKeyUsageOID
            builder = builder.add_extension(x509.ExtendedKeyUsage(
                [usage.SERVER_AUTH if server else usage.CLIENT_AUTH]), critical=False)
        return builder.sign(self.ca_key, hashes.SHA256())

    def leaf(self, stem: str, server=False, **subject):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._sign(_name(**subject), key.public_key(), server=server)
        cert_path, key_path = self.dir / f"{stem}.pem", self.dir / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key_path, key)
        return cert_path, key_path


def listener(pki, name: str, protocol: str, port: int, **ssl_extra) -> str:
    """One `[[kafka_listeners]]` block on 127.0.0.1:`port`, advertised as localhost (the
    server certificate's name); SSL and SASL_SSL get `pki`'s certificate, key and CA plus
    `ssl_extra` (e.g. client_auth, principal_mapping_rules)."""
    block = (f'[[kafka_listeners]]\nname = "{name}"\nprotocol = "{protocol}"\n'
             f'listen = "127.0.0.1:{port}"\nadvertised = "localhost:{port}"\n')
    if protocol.endswith("SSL"):
        fields = {"cert_file": pki.server_cert, "key_file": pki.server_key, "ca_file": pki.ca,
                  **ssl_extra}
        block += "ssl = { " + ", ".join(f'{k} = "{v}"' for k, v in fields.items()) + " }\n"
    return block + "\n"


def tls_config(pki: Pki, path: Path, ssl_port: int, mtls_port: int) -> Path:
    """A config with listeners SSL (no client certificates) and MTLS (required), and HTTPS
    that asks for a client certificate."""
    path.write_text(
        listener(pki, "SSL", "SSL", ssl_port)
        + listener(pki, "MTLS", "SSL", mtls_port, client_auth="required",
                   principal_mapping_rules=MAPPING_RULES)
        + f"""[http_ssl]
cert_file = "{pki.server_cert}"
key_file = "{pki.server_key}"
ca_file = "{pki.ca}"
client_auth = "requested"
principal_mapping_rules = "{MAPPING_RULES}"
""")
    return path


def start_tls_server(tmp_path: Path, pki: Pki, log: str = "info") -> Strom:
    """A Strom server with the PLAINTEXT listener of conftest plus SSL, MTLS and HTTPS."""
    server = Strom(tmp_path / "data", env={"STROM_LOG": log})
    server.ssl_port, server.mtls_port = free_port(), free_port()
    config = tls_config(pki, tmp_path / "strom.toml", server.ssl_port, server.mtls_port)
    server.extra_args = ["--config", str(config)]
    return server.start()
