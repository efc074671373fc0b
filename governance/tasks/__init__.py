"""What each DAG's tasks do: one module per DAG, one function per task.

Task ``T`` of DAG ``D`` runs ``governance.tasks.D.T``. The functions are Airflow-free: they
take plain values, return JSON-serialisable dicts and call into the domain packages, so the
DAG files only wire tasks and everything here is tested without a scheduler.
"""
