"""The log of record's core: RFC 6962 hashing and proofs, and locating a tampered entry."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.ledger.entries import LedgerState, Proposal, finding_proposal
from streams.ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from streams.ledger.verify import leaf_hashes, locate


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 6962 2.1's definition."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(n)]


def test_hashes_are_domain_separated_as_rfc_6962_says() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    assert root_of([]) == hashlib.sha256(b"").digest()


@given(st.integers(0, 300))
def test_the_frontier_root_is_the_merkle_tree_hash(n: int) -> None:
    hashes = leaves(n)
    assert Frontier.of(hashes).root() == reference_root(hashes)


@given(st.data())
def test_inclusion_proofs_verify_and_fail_for_another_leaf(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 200))
    i = data.draw(st.integers(0, n - 1))
    hashes = leaves(n)
    root = root_of(hashes)
    proof = inclusion_proof(hashes, i)
    assert verify_inclusion(i, n, hashes[i], proof, root)
    assert not verify_inclusion(i, n, leaf_hash(b"forged"), proof, root)
    if n > 1:
        assert not verify_inclusion((i + 1) % n, n, hashes[i], proof, root)


@given(st.data())
def test_consistency_proofs_verify_and_catch_a_rewritten_prefix(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 200))
    m = data.draw(st.integers(0, n))
    hashes = leaves(n)
    proof = consistency_proof(hashes, m)
    assert verify_consistency(m, n, root_of(hashes[:m]), root_of(hashes), proof)
    if 0 < m < n:
        j = data.draw(st.integers(0, m - 1))
        forged = [*hashes[:j], leaf_hash(b"forged"), *hashes[j + 1:]]
        assert not verify_consistency(m, n, root_of(forged[:m]), root_of(hashes), proof)


def state_with(n: int) -> tuple[LedgerState, list[bytes]]:
    state, entries = LedgerState(), []
    for i in range(n):
        outcome = state.append(
            finding_proposal(
                {"finding_id": f"C{i}/commander-notified", "call_id": f"C{i}", "revision": 1,
                 "transition": "opened", "status": "open",
                 "history": [{"at": "2024-01-01T00:00:00Z"}]}
            )
        )  # fmt: skip
        entries.append(outcome.entry)  # type: ignore[union-attr]
    return state, entries


def test_repeats_are_dropped_by_id_and_a_policy_change_back_is_kept() -> None:
    state, _ = state_with(3)
    again = finding_proposal(
        {"finding_id": "C1/commander-notified", "call_id": "C1", "revision": 1,
         "transition": "opened", "status": "open", "history": []}
    )  # fmt: skip
    assert state.append(again).index == 1 and state.size == 3
    v1 = Proposal("policy", "policy/p/1/a", None, {"version": "1"})
    v2 = Proposal("policy", "policy/p/2/b", None, {"version": "2"})
    indexes = [state.append(p).index for p in (v1, v1, v2, v1)]
    assert indexes == [3, 3, 4, 5] and state.size == 6


N = 40
STATE, ENTRIES = state_with(N)
AUTHENTIC = leaf_hashes(ENTRIES)


@settings(max_examples=200)
@given(st.integers(0, N - 1), st.integers(0, 2**16))
def test_an_edited_entry_is_named(position: int, salt: int) -> None:
    edited = list(ENTRIES)
    edited[position] = edited[position].replace(b'"open"', f'"closed{salt}"'.encode(), 1)
    tamper = locate(edited, AUTHENTIC)
    assert tamper is not None and (tamper.kind, tamper.index) == ("changed", position)


@given(st.integers(0, N - 1))
def test_a_deleted_entry_is_named(position: int) -> None:
    tamper = locate(ENTRIES[:position] + ENTRIES[position + 1 :], AUTHENTIC)
    assert tamper is not None and (tamper.kind, tamper.index) == ("removed", position)


@given(st.integers(0, N - 1), st.integers(1, N - 1))
def test_a_reordered_entry_is_named(position: int, distance: int) -> None:
    other = min(N - 1, position + distance)
    if other == position:
        position, other = position - 1, position
    moved = list(ENTRIES)
    moved[position], moved[other] = moved[other], moved[position]
    tamper = locate(moved, AUTHENTIC)
    assert tamper is not None and (tamper.kind, tamper.index) == ("reordered", position)


@given(st.integers(0, N), st.booleans())
def test_an_inserted_entry_is_named(position: int, duplicate: bool) -> None:
    extra = ENTRIES[position - 1] if duplicate and position > 0 else b'{"forged":true}'
    tamper = locate([*ENTRIES[:position], extra, *ENTRIES[position:]], AUTHENTIC)
    assert tamper is not None and (tamper.kind, tamper.index) == ("inserted", position)


def test_an_untouched_log_has_no_tamper() -> None:
    assert locate(ENTRIES, AUTHENTIC) is None
