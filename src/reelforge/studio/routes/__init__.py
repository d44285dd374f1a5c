"""The studio's routes, one module a concern: session, browse/edit, render queue, review, trust."""
