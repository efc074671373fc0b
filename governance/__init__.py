"""AI model governance on Apache Airflow 3: the domain package (usable without Airflow)."""
