"""The moderators' dashboard (``reseau-bot web``): server-rendered pages over the services.

``web.app.create_app(services)`` builds the aiohttp application; ``web.app.start`` serves it.
Layers: ``web`` imports ``bot`` (services, config, catalogue) and never ``discord``, ``cogs``,
``storage`` or ``sqlalchemy`` (``tests/test_layers.py`` checks it).
"""
