"""The dispatch simulator's parts; ``streams.simulate`` is the public entry point.

Everything here is pure: randomness comes from seeded ``random.Random`` instances
and time from the configured start, so a seed and a config always give the same
events, byte for byte.
"""
