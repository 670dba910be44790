"""What answers a query over runs: the reference evaluator (``reference``), the executable specification,
and the engines that must agree with it: column arrays (``columnar``), SQL over MLflow's tracking schema
(``sql``) and Spark (``spark``). ``semantics`` and ``aggregates`` hold the rules all of them share,
``embedding`` the entry point for a tracking store, ``planner`` the split of a query with a server."""
