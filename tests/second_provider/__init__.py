"""A second OpenID provider implementation that nobody here wrote: django-oauth-toolkit
(PyPI), configured as an OpenID provider (RS256, PKCE, refresh tokens, RP-initiated logout)
and run on loopback in a subprocess by the fixture in tests/test_second_provider.py."""
