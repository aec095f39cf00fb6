"""flowerdash benchmark suite: ``python -m benchmarks [--quick] [--only NAME,...]``.

Measures training, input pipeline, evaluation, explainer and dashboard latency, and concurrent
users, on the current machine, writes ``benchmarks/results/<machine>.json`` and regenerates the
tables in ``docs/PERFORMANCE.md`` from every result file.
"""

import flowerdash  # noqa: F401,E402 - sets TensorFlow's CPU options before any benchmark imports it
