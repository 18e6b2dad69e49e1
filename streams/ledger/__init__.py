"""The log of record: a tamper-evident, append-only history of what callwatch did.

Every finding transition, alert delivery attempt, acknowledgement, escalation,
policy version change, dead letter and immigration-agency call picture is one
*entry*, canonically encoded (``entries``), and a leaf of a Merkle tree hashed
as RFC 6962 / RFC 9162 do (``merkle``): leaf = SHA-256(0x00 || entry),
node = SHA-256(0x01 || left || right). A *checkpoint* (``checkpoint``) names a
tree size and its root hash, with a time, and is signed (Ed25519, in the
application layer) and published.

Why a Merkle tree and not a hash chain (each entry hashing the previous one):

- **Inclusion in O(log n).** An office can show a journalist that one finding
  is in the published history with ~20 hashes for a million entries, without
  handing over the rest of the log (which holds other calls). A chain needs
  every entry from there to the head.
- **Consistency between two checkpoints in O(log n).** Anyone holding last
  month's published checkpoint can check that this month's log *extends* it
  (nothing rewritten or removed in between) from a short proof. With a chain
  the verifier must replay the whole suffix.
- **The standard shape.** Certificate Transparency, Go's checksum database and
  sigstore's Rekor use exactly this tree, so the proofs can be checked with
  independent tooling, not only with ours.
- **Appending costs the same.** The writer keeps only the *frontier* (the roots
  of the perfect subtrees, at most log2(n) hashes), so an append is one leaf
  hash plus on average one node hash, like a chain.

A checkpoint alone proves *that* a log was changed, not *where*. So the writer
also keeps the leaf hashes (32 bytes each) beside the entries; verification
first checks that those hashes reproduce the signed root (then they are the
authentic ones), then compares each entry's hash with them and names the first
entry changed, removed, inserted or reordered (``verify``). Someone who
rewrites the hashes too is still caught by the signed root; the first signed
checkpoint that no longer matches then bounds where the change is.

Pure: standard library only, no clock, no I/O.
"""
