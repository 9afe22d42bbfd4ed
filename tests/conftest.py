"""Shared fixtures: TensorFlow set up once, the course's way (Keras 2, seeded, quiet)."""

import pytest


@pytest.fixture(scope="session")
def tf():
    """Return TensorFlow imported through tinyml_helpers.env.setup."""
    from tinyml_helpers import env

    return env.setup(0)
