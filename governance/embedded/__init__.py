"""``governance.embedded``: the laptop stack only: ``make run``'s launcher (:mod:`.launcher`),
Airflow standalone as it runs it (:mod:`.airflow`, also started by the end-to-end tests), the
local S3 server (:mod:`.s3server`, SeaweedFS), free loopback ports (:mod:`.ports`) and the demo
data and registry (:mod:`.demo`, :mod:`.demo_predictions`, :mod:`.demo_registry`).

The product never imports this package; it depends on the product, not the other way round.
``python -m governance.embedded run`` is what ``make run`` starts.
"""
