"""Airflow glue: the review operator, notifiers and the DAG factories.

Only DAG files import this package (it imports Airflow); the rest of ``governance`` runs
without Airflow.
"""
