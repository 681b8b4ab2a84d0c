"""Would your alerting have paged you? A real Prometheus and Alertmanager beside the run.

When a scenario asks for it (``monitoring:``, or ``harness run NAME --monitoring``), the
Docker backend starts, next to the target, Debian's Prometheus, Alertmanager and
node_exporter in containers, and in the harness two small HTTP servers:

- :mod:`~harness.monitoring.exporter` serves the metrics users alert on for the run's
  container (cAdvisor's ``container_oom_events_total`` and working set, kube-state-metrics'
  restart count and termination reasons), computed by :mod:`~harness.monitoring.kube_metrics`
  from the harness's own collectors the way their producers compute them;
- :mod:`~harness.monitoring.receiver` is Alertmanager's webhook receiver: it records each
  notification with its arrival time.

Prometheus evaluates the shipped rules (:mod:`~harness.monitoring.rules`) and the user's
own, Alertmanager routes what fires to the receiver, and each rule becomes a row of the
gap matrix (:mod:`harness.matrix.alerts`). :mod:`~harness.monitoring.stack` runs the
containers and reads Prometheus's HTTP API; :mod:`~harness.monitoring.profiles` holds the
two timing profiles.
"""
