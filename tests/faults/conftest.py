"""Fault tests use the engine tests' fixtures: real engine, shared images, per-module deployments."""

from tests.engine.conftest import deploy, engine, prepared_images  # noqa: F401  (fixtures)
