"""`/metrics`: the Prometheus families of SPEC §10, computed from the state at scrape time.

A custom `prometheus_client` Collector, registered in a registry of its own
(not the library's global one, whose process and platform collectors describe
the web server, not repairlab). Every value comes from the state through the
`StateSource`: the gauges from a census taken now, the counters and the
histogram from the event history (`web.events`), so they survive restarts of
the daemon and of the web server alike and agree between instances.

Labels are low-cardinality by construction: `outcome` is one of four fixed
words, `strategy` one of the six strategies (or `other`). No label ever holds
a handoff name, a tool or a hash.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from repairlab.web.events import DURATION_BUCKETS
from repairlab.web.source import StateSource

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StateCollector(Collector):
    """Yields the §10 families at each `collect()`.

    If the state cannot be read (root missing, an OSError), the exception
    propagates: the scrape fails with 500, which Prometheus records as `up 0`,
    rather than reporting zeros that look like an idle, healthy queue.
    """

    def __init__(self, source: StateSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        g = self.source.gauges()
        tally = self.source.history().snapshot()
        gauges = (
            ("repairlab_queue_depth", "Handoffs waiting in queue/.", g.queue),
            ("repairlab_oldest_queued_seconds",
             "Age of the oldest handoff that could be claimed now (handoffs backing off "
             "excluded until their wait is over); 0 when there is none.",
             g.oldest_claimable_s or 0.0),
            ("repairlab_in_flight", "Handoffs held by an instance now.", g.in_flight),
            ("repairlab_deferred", "Handoffs backing off after a failed repair.", g.deferred),
            ("repairlab_quarantined", "Handoffs in processed/hard_fail/.", g.quarantined),
            ("repairlab_instances_alive", "Instances whose heartbeat is within the lease.",
             g.instances_alive),
        )
        for name, doc, value in gauges:
            yield GaugeMetricFamily(name, doc, value=value)
        yield _by_label(
            "repairlab_handoffs", "Handoffs by outcome: repaired (incl. duplicates of a "
            "repaired bundle), failed (failed repair attempts), quarantined, corrupt.",
            "outcome", tally.outcomes)
        yield _by_label(
            "repairlab_repairs", "Successful repairs by the strategy that made the challenger "
            "(a duplicate pointing at an existing challenger is not counted).",
            "strategy", tally.strategies)
        yield CounterMetricFamily("repairlab_actor_restarts",
                                  "Actors restarted by a supervisor.", value=tally.restarts)
        cumulative, buckets = 0, []
        for bound, count in zip((*DURATION_BUCKETS, float("inf")), tally.buckets, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        yield HistogramMetricFamily(
            "repairlab_repair_duration_seconds",
            "Time from claim to challenger of successful repairs (duplicates excluded).",
            buckets=buckets, sum_value=tally.duration_sum)


def exposition(registry: CollectorRegistry) -> bytes:
    """The text exposition of `registry` (see StateCollector for failures)."""
    return generate_latest(registry)


def registry_for(source: StateSource) -> CollectorRegistry:
    """A registry holding only repairlab's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(source))
    return registry


def _by_label(name: str, doc: str, label: str, counts: Mapping[str, int]) -> CounterMetricFamily:
    """A counter with one sample per value of its one label."""
    family = CounterMetricFamily(name, doc, labels=[label])
    for value, count in counts.items():
        family.add_metric([value], count)
    return family
