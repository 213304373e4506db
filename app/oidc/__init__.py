"""The OpenID Connect protocol core. Nothing in this package imports Flask."""
