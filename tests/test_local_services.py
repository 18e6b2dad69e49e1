"""Local services' small decisions that a flaky start would otherwise hide."""

from __future__ import annotations

import base64

from callwatch import local_services


def test_kafka_cluster_ids_never_look_like_an_option() -> None:
    # 1 in 64 random ids start with "-", which kafka-storage's parser reads as an option;
    # 5,000 draws meet one with probability 1 - (63/64)**5000, all but certainly
    for _ in range(5000):
        cluster_id = local_services._kafka_cluster_id()
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
