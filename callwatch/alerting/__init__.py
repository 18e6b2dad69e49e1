"""Supervisor alerting, the I/O part: the alerts file, the channels, acknowledgements.

The pure core (messages, routing, delivery state) is ``streams.alerting``; the
agent that ties them to Kafka is ``agents.alerter``.
"""
