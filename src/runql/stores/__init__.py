"""Where runs are searched: in memory (``workspace``), in a tracking database (``sql``) or through a
tracking server (``server``), each a ``RunStore`` (``base``): one contract, MLflow's read calls.
``dispatch`` holds ``runql.connect``, which chooses the store a URL names."""
