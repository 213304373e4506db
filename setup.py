"""Packaging beyond what pyproject.toml can say: the top-level templates/ folder ships inside
the wheel as the `app.templates` package (the app finds it there, or in the checkout).
Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["app", "app.*"]) + ["app.templates"],
    package_dir={"app.templates": "templates"},
    package_data={"app.templates": ["*.html", "devidp/*.html"], "app": ["static/*", "static/**/*"]},
)
