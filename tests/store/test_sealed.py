"""The session ticket, keyed hashes and sealed values, on both real backends."""

from __future__ import annotations

import json

import pytest

from app.store.sealed import Keyer, Ticket, Vault, derive_key, hashed_key, seal, unseal

CURRENT = "current-secret-that-is-long-enough-0123456789"
OLD = "an-older-secret-that-is-long-enough-9876543210"


def test_ticket_round_trip_and_junk():
    ticket = Ticket.new()
    assert Ticket.parse(ticket.cookie()) == ticket
    assert Ticket.new() != ticket
    for junk in ("", "abc", ticket.id, ticket.cookie() + "x", ticket.cookie().replace(".", "-"),
                 "a" * 22 + "." + "!" * 43, ticket.cookie()[:-1], None):
        assert Ticket.parse(junk) is None


def test_hashed_key_depends_on_secret_kind_and_value():
    key = hashed_key(CURRENT, "session", "abc")
    assert key.startswith("session:") and "abc" not in key
    assert key == hashed_key(CURRENT, "session", "abc")
    assert key != hashed_key(OLD, "session", "abc")
    assert key != hashed_key(CURRENT, "tokens", "abc").replace("tokens:", "session:")
    assert key != hashed_key(CURRENT, "session", "abd")


def test_seal_is_authenticated_and_bound_to_its_kind():
    aead = derive_key(b"k" * 32, "session")
    sealed = seal(aead, "session", {"sub": "ada"})
    assert "ada" not in sealed
    assert unseal(aead, "session", sealed) == {"sub": "ada"}
    assert unseal(aead, "tokens", sealed) is None  # moved to another kind
    assert unseal(derive_key(b"x" * 32, "session"), "session", sealed) is None  # another cookie
    flipped = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    assert unseal(aead, "session", flipped) is None
    for junk in (None, 12, "", "!!!", sealed[:10], {"a": 1}):
        assert unseal(aead, "session", junk) is None


def test_vault_stores_nothing_readable(store):
    ticket = Ticket.new()
    vault = Vault(store, Keyer([CURRENT]), ticket)
    vault.put("tokens", {"refresh_token": "rt-secret", "email": "ada@example.com"}, 60)
    assert vault.get("tokens") == {"refresh_token": "rt-secret", "email": "ada@example.com"}
    raw = store.get(vault.key("tokens"))
    text = json.dumps(raw)
    assert "rt-secret" not in text and "ada@" not in text and ticket.id not in vault.key("tokens")
    # Without the cookie's secret the value is worthless, even with the right key.
    thief = Vault(store, Keyer([CURRENT]), Ticket(ticket.id, b"\0" * 32))
    assert thief.get("tokens") is None


def test_tampered_value_reads_as_missing(store):
    vault = Vault(store, Keyer([CURRENT]), Ticket.new())
    vault.put("session", {"sub": "ada"}, 60)
    raw = store.get(vault.key("session"))
    raw["sealed"] = raw["sealed"][:-4] + "AAAA"
    store.set(vault.key("session"), raw, 60)
    assert vault.get("session") is None
    store.set(vault.key("session"), {"something": "else"}, 60)
    assert vault.get("session") is None


def test_rotation_reads_old_keys_and_writes_new_ones(store):
    ticket = Ticket.new()
    before = Vault(store, Keyer([OLD]), ticket)
    before.put("session", {"sub": "ada"}, 60)
    after = Vault(store, Keyer([CURRENT, OLD]), ticket)
    assert after.get("session") == {"sub": "ada"}  # rotation signs nobody out
    after.put("session", {"sub": "ada", "seen": 1}, 60)
    assert store.get(hashed_key(CURRENT, "session", ticket.id)) is not None
    assert store.get(hashed_key(OLD, "session", ticket.id)) is None  # moved, not copied
    assert Vault(store, Keyer([CURRENT]), ticket).get("session") == {"sub": "ada", "seen": 1}
    # A secret no longer listed opens nothing written under it.
    lost = Ticket.new()
    Vault(store, Keyer([OLD]), lost).put("session", {"sub": "bob"}, 60)
    assert Vault(store, Keyer([CURRENT]), lost).get("session") is None


def test_delete_removes_every_generation(store):
    ticket = Ticket.new()
    Vault(store, Keyer([OLD]), ticket).put("tokens", {"a": 1}, 60)
    vault = Vault(store, Keyer([CURRENT, OLD]), ticket)
    vault.delete("tokens")
    assert vault.get("tokens") is None


@pytest.mark.parametrize("name", ["", "digest-1"])
def test_named_values_are_separate(store, name):
    vault = Vault(store, Keyer([CURRENT]), Ticket.new())
    vault.put("refresh-result", {"n": name}, 60, name=name)
    assert vault.get("refresh-result", name=name) == {"n": name}
    assert vault.get("refresh-result", name=name + "other") is None
