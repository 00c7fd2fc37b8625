"""API keys in the store: only hashes kept, scopes ordered, revocation at once."""

from __future__ import annotations

import hashlib

import pytest
from impactlens.store.schema import api_keys
from sqlalchemy import select

from impactlens.errors import InvalidSettingsError, UnknownApiKeyError


def test_a_key_is_shown_once_and_only_its_hash_is_stored(fresh_store):
    store = fresh_store()
    stored, key = store.create_api_key("servicenow-prod", "ingest")

    with store.engine.connect() as connection:
        rows = connection.execute(select(api_keys)).mappings().all()
    assert len(rows) == 1
    assert rows[0]["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {str(value) for value in rows[0].values()}
    assert rows[0]["prefix"] == key[:8] == stored.prefix
    assert key.startswith("il_") and len(key) == 3 + 43  # 32 random bytes, URL-safe


def test_authenticate_finds_the_live_key_and_nothing_else(fresh_store):
    store = fresh_store()
    reader, read_key = store.create_api_key("desk", "read")
    admin, admin_key = store.create_api_key("ops", "admin")

    assert store.authenticate(read_key) == reader
    assert store.authenticate(admin_key) == admin
    assert store.authenticate(read_key + "x") is None
    assert store.authenticate(read_key[3:]) is None  # no prefix: not a key of ours
    assert store.authenticate("") is None


def test_scopes_are_ordered_read_ingest_admin(fresh_store):
    store = fresh_store()
    allowed = {}
    for scope in ("read", "ingest", "admin"):
        key = store.create_api_key(f"k-{scope}", scope)[0]
        allowed[scope] = [needed for needed in ("read", "ingest", "admin") if key.allows(needed)]

    assert allowed == {
        "read": ["read"],
        "ingest": ["read", "ingest"],
        "admin": ["read", "ingest", "admin"],
    }


def test_a_revoked_key_stops_at_once_and_stays_listed_as_revoked(fresh_store):
    store = fresh_store()
    _, key = store.create_api_key("old", "read")
    store.create_api_key("new", "read")

    revoked = store.revoke_api_key("old")

    assert revoked.revoked_at is not None
    assert store.authenticate(key) is None
    assert [k.name for k in store.api_keys()] == ["new"]
    assert [(k.name, k.revoked_at is None) for k in store.api_keys(revoked=True)] == [
        ("old", False),
        ("new", True),
    ]
    again = fresh_store()  # another process sees the same
    assert again.authenticate(key) is None


def test_revoking_twice_keeps_the_first_moment(fresh_store):
    store = fresh_store()
    store.create_api_key("old", "read")
    first = store.revoke_api_key("old").revoked_at
    assert store.revoke_api_key("old").revoked_at == first


def test_bad_names_scopes_and_unknown_keys_are_refused_with_a_message(fresh_store):
    store = fresh_store()
    store.create_api_key("desk", "read")
    store.revoke_api_key("desk")

    with pytest.raises(
        InvalidSettingsError, match=r"scope 'root' is not a scope .*read, ingest, admin"
    ):
        store.create_api_key("x", "root")
    with pytest.raises(InvalidSettingsError, match="named 'desk' exists already"):
        store.create_api_key("desk", "read")  # even a revoked key's name
    for name in ("", " lead", "a" * 101, "tab\there"):
        with pytest.raises(InvalidSettingsError, match="is not usable"):
            store.create_api_key(name, "read")
    with pytest.raises(UnknownApiKeyError, match="no API key is named 'nope' \\(keys: none\\)"):
        store.revoke_api_key("nope")
    assert store.api_keys(revoked=True)[0].name == "desk"


def test_the_revision_moves_with_every_ingest(fresh_store, make_batch):
    store = fresh_store()
    assert store.revision() == 0
    store.save_batch(make_batch(incidents=[{}]), source_file="a.csv", format="csv")
    first = store.revision()
    store.save_batch(make_batch(incidents=[{}]), source_file="a.csv", format="csv")
    assert 0 < first < store.revision()
