"""Airflow glue only (``governance/orchestration/``); what the tasks do is in ``governance.tasks``.

- ``dag_factory``: builds the ``model_approval_<tier>`` DAGs from the workflow definition;
- ``operators``: ``GovernanceReviewOperator``, the HITL review task;
- ``forms``: trigger-form ``Param``s (the submission card, the nightly ``report_date``);
- ``notifiers``: ``LogNotifier``, fired by a review that timed out and by a raised bias flag;
- ``defaults``: the ``default_args`` every DAG uses;
- ``answer_capture``: the API-server middleware (installed by ``plugins/governance_plugin.py``)
  that records reviewers' answers and review tasks set by hand as they happen.

DAG files and the plugin import these modules; all but ``defaults`` and ``answer_capture`` import
Airflow at module level (``answer_capture`` imports it where it is used). The rest of
``governance`` runs without Airflow.
"""
