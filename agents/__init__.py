"""callwatch's Faust agents: thin stages that consume, call the pure core, and produce."""
