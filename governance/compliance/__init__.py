"""Compliance tracking: the requirements a card declares (GDPR, SOC 2, HIPAA, EU AI Act),
the evaluators of their checks (:mod:`.evaluators`) and the report (:mod:`.report`)."""
