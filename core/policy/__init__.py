"""The playbook's rules, pure and clock-injected: failure classes, retries, the circuit breaker, dead letters,
human gates, budgets and effort tiers."""
