"""MLflow model registry plan/apply (`mlspec registry`).

    desired.py        the desired state, from the platform (pure)
    plan.py           desired vs actual -> actions and conflicts (pure)
    render.py         terraform-style text and JSON plans (pure)
    apply.py          run a plan's actions, model by model, concurrently
    mlflow_client.py  the only module that imports mlflow
    reconcile.py      the steps put together, for the CLI and library users

Nothing here imports mlflow at package import time.
"""
