"""The data a search works on and hands back: runs and experiments shaped like ``mlflow.entities``
(``records``), the checked arguments of MLflow's search calls (``arguments``), pages and page tokens
(``paging``), results as DataFrames (``frames``), keys no run has (``keys``) and runs side by side
(``comparison``)."""
