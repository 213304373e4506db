"""Flask glue: blueprints and request hooks. Protocol decisions live in app.oidc."""
