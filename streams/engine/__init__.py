"""The detection and policy engine: facts, rules, per-call state, deadlines."""
