"""Supervisor alerting, the pure part: messages, routing, delivery state, signatures.

No I/O and no clock: every function takes the time it needs as unix
milliseconds. ``callwatch.alerting`` holds the channels that talk to the
outside world and ``agents.alerter`` the agent that drives both.
"""
