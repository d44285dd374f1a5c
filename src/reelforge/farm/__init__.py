"""The render farm: a production's shots rendered on a Ray cluster, byte-identical to a local render.

units (what is sent out) → worker (what a node runs) → accept (what the driver keeps) →
cluster (joining Ray) → runner (the driver's loop: a `ShotRunner` for engine/pipeline.py).
Only the driver writes the production's store and catalog; workers share nothing but the cluster.
"""
