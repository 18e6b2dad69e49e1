"""callwatch's pure core: parsing, classification, policy rules and per-call state.

Nothing in this package imports Faust, Kafka or Elasticsearch, and nothing in it
reads the wall clock: time comes in as an argument. The same code runs in the
live agents and in the offline ``callwatch check``.
"""
