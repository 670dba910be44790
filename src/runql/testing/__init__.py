"""Testing a backend against runql's semantics: hypothesis strategies (``runql.strategies``), the conformance
kit and the differential report against MLflow (``runql.conformance``), and the pytest plugin."""
