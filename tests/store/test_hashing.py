"""Each password hash is the format its consumer verifies, and verifies the password."""

import base64
import hashlib
import hmac

import pytest

from oemhost.store import hashing


@pytest.mark.parametrize("make, check, pattern", [
    (hashing.sha512_crypt, hashing.verify_sha512_crypt, hashing.SHA512_CRYPT_RE),
    (hashing.dovecot_hash, hashing.verify_dovecot_hash, hashing.DOVECOT_RE),
    (hashing.mariadb_native_hash, hashing.verify_mariadb_native_hash, hashing.MARIADB_RE),
    (hashing.postgres_scram_sha256, hashing.verify_postgres_scram_sha256, hashing.SCRAM_RE),
])
def test_hash_verifies_only_its_password(make, check, pattern):
    hashed = make("correct horse 1")
    assert pattern.match(hashed)
    assert "correct horse" not in hashed
    assert check("correct horse 1", hashed)
    assert not check("correct horse 2", hashed)


def test_salted_hashes_differ_each_time():
    assert hashing.sha512_crypt("pw-123456") != hashing.sha512_crypt("pw-123456")
    assert hashing.postgres_scram_sha256("pw-123456") != hashing.postgres_scram_sha256("pw-123456")


def test_sha512_crypt_matches_the_specification_vectors():
    # test vectors from Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512"
    assert hashing.verify_sha512_crypt(
        "Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJu"
                        "esI68u4OTLiBFdcbYEdFCoEOfaS35inz1")
    assert hashing.verify_sha512_crypt(
        "Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sb"
                        "HbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.")
    assert hashing.sha512_crypt("x").startswith(f"$6$rounds={hashing.SHA512_ROUNDS}$")


def test_mariadb_hash_is_double_sha1():
    inner = hashlib.sha1(b"password", usedforsecurity=False).digest()
    expected = "*" + hashlib.sha1(inner, usedforsecurity=False).hexdigest().upper()
    assert hashing.mariadb_native_hash("password") == expected
    assert expected == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"  # MariaDB's documented value


def test_scram_verifier_answers_the_rfc7677_exchange():
    # RFC 7677 section 3: user "user", password "pencil"; the server signature computed
    # from our verifier's ServerKey must be the one in the RFC.
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    verifier = hashing.postgres_scram_sha256("pencil", salt=salt)
    assert verifier.startswith("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$")
    server_key = base64.b64decode(verifier.rsplit(":", 1)[1])
    auth_message = (b"n=user,r=rOprNGfwEbeRWgbNEkqO,"
                    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                    b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
                    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
    signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
    assert base64.b64encode(signature) == b"6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
