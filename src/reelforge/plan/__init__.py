"""Spec → shot jobs: every control resolved, every file hashed, every seed derived; job keys and the render-code hash."""
