"""The daemon's actors, one concept each.

- `watcher.Watcher`: watches `queue/`, rescans, claims, dispatches, heartbeats.
- `repairer.Repairer`: one per worker; repairs one claimed handoff at a time.
- `failure_window.FailureWindow`: failure records and the quarantine rule.
- `quarantine.Quarantine`: moves handoffs to `hard_fail/` and `corrupt/`.
- `telemetry.Telemetry`: challengers and metrics lines.
- `pruner.Pruner`: the timed TTL pruning.
"""
