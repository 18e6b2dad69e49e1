"""Live inputs that are not Kafka topics (e.g. NENA-STA-024 EIDO WebSocket feeds)."""
