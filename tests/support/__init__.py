"""What the tests share: services they start, stores MLflow writes, runs of given shapes."""
