"""The engine: a shot as a pure unit of work (shot.py) and the pipeline that renders, delivers, records."""
