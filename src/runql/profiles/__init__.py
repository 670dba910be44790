"""What a backend accepts: the profiles (``catalog``), the checker that finds every problem a profile has
with a query, the lowering to MLflow's meaning, and the compiled query every engine runs."""
