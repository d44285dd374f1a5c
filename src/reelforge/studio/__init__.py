"""The Open Studio: a local web app over the same library calls as the command line.

Server-rendered Jinja2 pages with htmx (vendored in static/, no build step, works
offline): a producer's browser gets HTML, and every action is a form post to an
endpoint that calls the library. No logic lives only here.
"""
