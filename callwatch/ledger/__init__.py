"""The log of record on disk: the store, checkpoint signing and publishing.

The pure parts (encoding, Merkle hashing, proofs, locating a change) are in
``streams.ledger``; this package adds files, keys and the network.
"""
